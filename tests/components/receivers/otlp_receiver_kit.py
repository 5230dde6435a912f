"""Helpers of the otlp receiver tests: a receiver built through its factory, a collecting
consumer, request builders and a bounded loop runner."""

from __future__ import annotations

import asyncio
import contextlib

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from cobalt_trace.components.receivers.otlp.factory import FACTORY
from cobalt_trace.pipeline.client import ClientInfo, current_client
from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.wire.batch import SpanBatch

__all__ = ["Collecting", "make_request", "receiver", "run", "span_bytes", "EXPORT_METHOD"]

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class Collecting:
    """The next consumer: keeps batches and the client each arrived with; can be told to fail."""

    mutates_data = False

    def __init__(self):
        self.batches: list[SpanBatch] = []
        self.clients: list[ClientInfo] = []
        self.fail_with: BaseException | None = None
        self.calls = 0

    async def consume(self, batch: SpanBatch) -> None:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append(batch)
        self.clients.append(current_client())

    def spans(self) -> list[bytes]:
        return [span for b in self.batches for _, _, span in b.iter_spans()]


def make_request(n_spans: int = 2, service: str = "nova-api", filler: str = "") -> bytes:
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value=service))
    ss = rs.scope_spans.add()
    ss.scope.name = "cobalt.test"
    for i in range(n_spans):
        span = ss.spans.add(
            trace_id=bytes(range(1, 17)),
            span_id=(i + 1).to_bytes(8, "big"),
            name=f"GET /servers/{i}",
            kind=trace_pb2.Span.SPAN_KIND_SERVER,
            start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_000_500_000_000 + i,
        )
        span.attributes.add(key="http.route", value=common_pb2.AnyValue(string_value="/servers/{id}"))
        if filler:
            span.attributes.add(key="filler", value=common_pb2.AnyValue(string_value=filler))
    return req.SerializeToString()


def span_bytes(request: bytes) -> list[bytes]:
    req = trace_service_pb2.ExportTraceServiceRequest.FromString(request)
    return [s.SerializeToString() for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]


def run(coro, timeout: float = 30.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def build(raw: dict, name: str = "", telemetry: Telemetry | None = None, sink: Collecting | None = None):
    config, errors = decode(FACTORY.config_type, raw, "receivers::otlp")
    assert errors == [], errors
    settings = CreateSettings(ComponentID("otlp", name), Kind.RECEIVER, telemetry or Telemetry())
    sink = sink or Collecting()
    return FACTORY.create(settings, config, sink), sink


@contextlib.asynccontextmanager
async def receiver(raw: dict, *, extensions: dict | None = None, telemetry: Telemetry | None = None):
    """A started receiver (ports in `.grpc_port` / `.http_port`) and its sink; always shut down."""
    telemetry = telemetry or Telemetry()
    rcv, sink = build(raw, telemetry=telemetry)
    await rcv.start(Host(telemetry, extensions))
    try:
        yield rcv, sink
    finally:
        await rcv.shutdown()
