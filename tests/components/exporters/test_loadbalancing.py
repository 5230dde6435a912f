"""loadbalancing: consistent-hash ring, whole traces per backend, real gRPC backends, local hand-off."""

from __future__ import annotations

import asyncio
import os

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from cobalt_trace.components import builtin_registry
from cobalt_trace.components.exporters.loadbalancing.ring import HashRing
from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.errors import ConfigError
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.wire.batch import SpanBatch


def test_ring_moves_only_the_removed_backends_share():
    keys = [os.urandom(16) for _ in range(20000)]
    four = HashRing([f"10.0.0.{i}:4317" for i in range(4)])
    three = HashRing([f"10.0.0.{i}:4317" for i in range(3)])
    before = [four.lookup(k) for k in keys]
    after = [three.lookup(k) for k in keys]
    moved = sum(b != a for b, a in zip(before, after, strict=True))
    owned_by_removed = sum(b == "10.0.0.3:4317" for b in before)
    assert moved == owned_by_removed  # nothing else moves
    shares = [before.count(f"10.0.0.{i}:4317") / len(keys) for i in range(4)]
    assert all(0.15 < s < 0.35 for s in shares), shares


def request_with_traces(n_traces: int, spans_per_trace: int, services=("nova-api", "nova-compute")) -> bytes:
    req = ExportTraceServiceRequest()
    for s, service in enumerate(services):
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = service
        ss = rs.scope_spans.add()
        ss.scope.name = "test"
        for t in range(n_traces):
            for i in range(spans_per_trace):
                ss.spans.add(trace_id=bytes([t]) * 16, span_id=bytes([s, t, i]) + bytes(5), name=f"op{i}")
    return req.SerializeToString()


class Sink:
    """A real OTLP/gRPC server that records the requests it gets."""

    def __init__(self):
        self.requests: list[ExportTraceServiceRequest] = []

    async def start(self) -> str:
        async def export(request: bytes, context) -> bytes:
            self.requests.append(ExportTraceServiceRequest.FromString(request))
            return b""

        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(export)},
        )
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers((handler,))
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return f"127.0.0.1:{port}"

    def traces(self) -> dict[bytes, set[bytes]]:
        out: dict[bytes, set[bytes]] = {}
        for r in self.requests:
            for rs in r.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.setdefault(span.trace_id, set()).add(span.span_id)
        return out


def make_exporter(raw: dict, host: Host | None = None):
    registry = builtin_registry()
    factory = registry.get(Kind.EXPORTER, "loadbalancing")
    config, errors = decode(factory.config_type, raw, "exporters::loadbalancing")
    assert errors == [], errors
    telemetry = Telemetry()
    settings = CreateSettings(
        ComponentID("loadbalancing"), Kind.EXPORTER, telemetry, extra={"registry": registry}
    )
    return factory.create(settings, config, None), host or Host(telemetry)


OTLP = {
    "tls": {"insecure": True},
    "compression": "none",
    "retry_on_failure": {"enabled": False},
    "sending_queue": {"enabled": False},
}


def test_every_trace_lands_whole_on_one_backend():
    async def run():
        sinks = [Sink() for _ in range(3)]
        endpoints = [await s.start() for s in sinks]
        exporter, host = make_exporter(
            {"protocol": {"otlp": OTLP}, "resolver": {"static": {"hostnames": endpoints}}}
        )
        await exporter.start(host)
        for _ in range(3):  # the same traces again: they must go to the same backends
            await exporter.consume(SpanBatch.from_bytes(request_with_traces(60, 4)))
        await exporter.shutdown()
        for s in sinks:
            await s.server.stop(None)
        return sinks

    sinks = asyncio.run(run())
    seen: dict[bytes, int] = {}
    for i, sink in enumerate(sinks):
        traces = sink.traces()
        assert traces, f"backend {i} got nothing"
        for trace_id, span_ids in traces.items():
            assert trace_id not in seen, "a trace was split across backends"
            seen[trace_id] = i
            assert len(span_ids) == 8  # 4 spans x 2 services, all on this backend
    assert len(seen) == 60


def test_routing_by_service_keeps_resources_together():
    async def run():
        sinks = [Sink() for _ in range(2)]
        endpoints = [await s.start() for s in sinks]
        exporter, host = make_exporter(
            {
                "routing_key": "service",
                "protocol": {"otlp": OTLP},
                "resolver": {"static": {"hostnames": endpoints}},
            }
        )
        await exporter.start(host)
        await exporter.consume(
            SpanBatch.from_bytes(request_with_traces(10, 2, services=[f"s{i}" for i in range(8)]))
        )
        await exporter.shutdown()
        for s in sinks:
            await s.server.stop(None)
        return sinks

    sinks = asyncio.run(run())
    where = {}
    for i, sink in enumerate(sinks):
        for r in sink.requests:
            for rs in r.resource_spans:
                name = rs.resource.attributes[0].value.string_value
                assert where.setdefault(name, i) == i
    assert len(where) == 8


def test_local_backend_gets_batches_without_network():
    class Local:
        mutates_data = False

        def __init__(self):
            self.spans = 0

        async def consume(self, batch):
            self.spans += batch.span_count

    async def run():
        sink = Sink()
        remote = await sink.start()
        local = Local()
        telemetry = Telemetry()
        host = Host(telemetry)
        host.local_endpoints = {"127.0.0.1:59999": local}
        exporter, _ = make_exporter(
            {"protocol": {"otlp": OTLP}, "resolver": {"static": {"hostnames": [remote, "127.0.0.1:59999"]}}},
            host,
        )
        await exporter.start(host)
        await exporter.consume(SpanBatch.from_bytes(request_with_traces(50, 2)))
        await exporter.shutdown()
        await sink.server.stop(None)
        return local.spans, sum(len(v) for v in sink.traces().values())

    local_spans, remote_spans = asyncio.run(run())
    assert local_spans > 0 and remote_spans > 0
    assert local_spans + remote_spans == 200


def test_protocol_otlp_errors_carry_their_path():
    with pytest.raises(ConfigError) as exc:
        make_exporter(
            {"protocol": {"otlp": {"compression": "brotli"}}, "resolver": {"static": {"hostnames": ["a"]}}}
        )
    assert any(
        e.startswith("exporters::loadbalancing::protocol::otlp::compression") for e in exc.value.errors
    )
    registry = builtin_registry()
    factory = registry.get(Kind.EXPORTER, "loadbalancing")
    _, errors = decode(factory.config_type, {"resolver": {}}, "exporters::loadbalancing")
    assert errors == ["exporters::loadbalancing::resolver::static: no resolver configured: set static or dns"]


def test_dns_resolver_finds_localhost():
    from cobalt_trace.components.exporters.loadbalancing.resolver import DNSBackends

    async def run():
        found = []
        backends = DNSBackends("localhost", 4317, interval=60, timeout=2)

        async def on_change(endpoints):
            found.extend(endpoints)

        await backends.start(on_change)
        await backends.stop()
        return found

    assert "127.0.0.1:4317" in asyncio.run(run())
