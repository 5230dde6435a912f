"""Three gateway replicas with the seed's tail-sampling policies and trace-id routing between
them: spans of one trace are sent to random replicas, yet every trace is decided once, by one
replica, on all of its spans — no trace arrives partially."""

from __future__ import annotations

import asyncio
import random
from fractions import Fraction

import grpc
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from cobalt_testkit import free_port, wait_port
from cobalt_trace.wire.otlp_json import traces_from_json

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
N_TRACES = 1000
DECISION_WAIT = "2s"


def fnv1a_64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def kept_by_probability(trace_id: bytes, percentage: float = 10) -> bool:
    threshold = int((2**64 - 1) * Fraction(percentage / 100))  # upstream: MaxUint64 × ratio, truncated
    return fnv1a_64(b"default-hash-seed" + trace_id) <= threshold


def replica_config(route_port, peer_port, peers, sink_port, index) -> str:
    seed_policies = [
        {"name": "error-traces", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
        {"name": "slow-traces", "type": "latency", "latency": {"threshold_ms": 1000}},
        {"name": "probabilistic", "type": "probabilistic", "probabilistic": {"sampling_percentage": 10}},
    ]
    return yaml.safe_dump(
        {
            "receivers": {
                "otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{route_port}"}}},
                "otlp/peer": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{peer_port}"}}},
            },
            "processors": {
                "batch": {"timeout": "200ms", "send_batch_size": 1024},
                "resource": {
                    "attributes": [
                        {"key": "cluster", "value": "control-plane", "action": "upsert"},
                        {"key": "gateway.replica", "value": index, "action": "upsert"},
                    ]
                },
                "tail_sampling": {"decision_wait": DECISION_WAIT, "policies": seed_policies},
            },
            "exporters": {
                "loadbalancing": {
                    "routing_key": "traceID",
                    "protocol": {"otlp": {"tls": {"insecure": True}, "compression": "none"}},
                    "resolver": {"static": {"hostnames": [f"127.0.0.1:{p}" for p in peers]}},
                },
                "otlp": {"endpoint": f"127.0.0.1:{sink_port}", "tls": {"insecure": True}},
            },
            "service": {
                "pipelines": {
                    "traces/route": {"receivers": ["otlp"], "exporters": ["loadbalancing"]},
                    "traces/sample": {
                        "receivers": ["otlp/peer"],
                        "processors": ["resource", "tail_sampling", "batch"],
                        "exporters": ["otlp"],
                    },
                },
                "telemetry": {"metrics": {"level": "none"}},
            },
        }
    )


def sink_config(port, out) -> str:
    return yaml.safe_dump(
        {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{port}"}}}},
            "exporters": {"file": {"path": str(out), "flush_interval": "100ms"}},
            "service": {
                "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["file"]}},
                "telemetry": {"metrics": {"level": "none"}},
            },
        }
    )


def make_traces(rng: random.Random, now: int):
    """1,000 traces of 3–8 spans: 10% with one ERROR span, 10% longer than 1 s, the rest fast."""
    traces = {}
    kinds = {}
    for t in range(N_TRACES):
        trace_id = rng.randbytes(16)
        kind = "error" if t % 10 == 0 else "slow" if t % 10 == 1 else "plain"
        duration = 1_500_000_000 if kind == "slow" else rng.randint(1_000_000, 200_000_000)
        root_id = rng.randbytes(8)
        spans = [
            Span(
                trace_id=trace_id,
                span_id=root_id,
                name="POST /v2.1/servers",
                kind=Span.SPAN_KIND_SERVER,
                start_time_unix_nano=now - duration,
                end_time_unix_nano=now,
            )
        ]
        for i in range(rng.randint(2, 7)):
            spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=rng.randbytes(8),
                    parent_span_id=root_id,
                    name=f"step {i}",
                    start_time_unix_nano=now - duration + 1000 * (i + 1),
                    end_time_unix_nano=now - duration + 1000 * (i + 2),
                )
            )
        if kind == "error":
            spans[rng.randrange(len(spans))].status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR))
        traces[trace_id] = spans
        kinds[trace_id] = kind
    return traces, kinds


def requests_for(spans: list[Span], rng: random.Random) -> list[bytes]:
    """Spans shuffled across requests, so one trace's spans travel in several requests."""
    rng.shuffle(spans)
    out = []
    for i in range(0, len(spans), 40):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = "nova-api"
        rs.scope_spans.add().spans.extend(spans[i : i + 40])
        out.append(req.SerializeToString())
    return out


async def send_all(requests: list[bytes], ports: list[int], rng: random.Random) -> None:
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{p}") for p in ports]
    calls = [c.unary_unary(EXPORT) for c in channels]
    try:
        await asyncio.gather(*(rng.choice(calls)(r, timeout=30) for r in requests))
    finally:
        for c in channels:
            await c.close()


def read_sink(path, deciders: dict | None = None) -> dict[bytes, set[bytes]]:
    got: dict[bytes, set[bytes]] = {}
    if not path.exists():
        return got
    for line in path.read_text().splitlines():
        req = ExportTraceServiceRequest.FromString(traces_from_json(line))
        for rs in req.resource_spans:
            attrs = {kv.key: kv.value for kv in rs.resource.attributes}
            assert attrs["cluster"].string_value == "control-plane"
            for ss in rs.scope_spans:
                for span in ss.spans:
                    got.setdefault(span.trace_id, set()).add(span.span_id)
                    if deciders is not None:
                        deciders.setdefault(span.trace_id, set()).add(attrs["gateway.replica"].int_value)
    return got


def test_three_replicas_keep_whole_traces(collectors, tmp_path):
    import time

    rng = random.Random(7)
    sink_port = free_port()
    out = tmp_path / "sink.json"
    sink = collectors(sink_config(sink_port, out), "sink")
    route_ports = [free_port() for _ in range(3)]
    peer_ports = [free_port() for _ in range(3)]
    replicas = [
        collectors(replica_config(route_ports[i], peer_ports[i], peer_ports, sink_port, i), f"replica{i}")
        for i in range(3)
    ]
    wait_port(sink_port, sink.proc)
    for i, r in enumerate(replicas):
        wait_port(route_ports[i], r.proc)
        wait_port(peer_ports[i], r.proc)

    traces, kinds = make_traces(rng, time.time_ns())
    all_spans = [s for spans in traces.values() for s in spans]
    asyncio.run(send_all(requests_for(all_spans, rng), route_ports, rng))

    expected = {tid for tid, kind in kinds.items() if kind != "plain" or kept_by_probability(tid)}
    deadline = time.monotonic() + 30
    got = {}
    while time.monotonic() < deadline:
        time.sleep(0.5)
        got = read_sink(out)
        if set(got) >= expected and all(len(got[t]) == len(traces[t]) for t in expected):
            time.sleep(1.0)  # anything wrongly kept would show up by now too
            got = read_sink(out)
            break
    for r in replicas:
        assert r.stop() == 0, r.output()
        # its own share never left the process
        assert "is this process: handing batches to the local pipeline" in r.output()
    sink.stop()
    deciders: dict[bytes, set[int]] = {}
    got = read_sink(out, deciders)
    assert all(len(d) == 1 for d in deciders.values()), "a trace was decided by more than one replica"
    per_replica = [sum(1 for d in deciders.values() if i in d) for i in range(3)]
    assert all(n > 0 for n in per_replica), per_replica  # every replica owned a share of the traces

    partial = [t.hex() for t in got if len(got[t]) != len(traces[t])]
    assert partial == [], f"{len(partial)} traces arrived partially"
    missing = {t for t in expected if t not in got}
    assert {kinds[t] for t in missing} == set() and not missing, f"{len(missing)} expected traces missing"
    unexpected = set(got) - expected
    assert not unexpected, f"{len(unexpected)} traces kept that no policy selects"
    plain_kept = sum(1 for t in got if kinds[t] == "plain")
    assert 40 <= plain_kept <= 130  # about 10% of the 800 plain traces
