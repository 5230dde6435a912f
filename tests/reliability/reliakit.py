"""Helpers of the reliability tests: span batches with unique span ids, settings, a loop runner."""

from __future__ import annotations

import asyncio

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.wire.batch import SpanBatch
from cobalt_trace.wire.otlp_raw import RequestRaw, SpanLite

__all__ = ["make_request", "make_batch", "span_ids", "make_settings", "run"]


def make_request(first_id: int, n_spans: int, *, service: str = "nova-api", filler: int = 0) -> bytes:
    """An ExportTraceServiceRequest whose spans have span ids first_id .. first_id+n-1 (8 bytes,
    big-endian), so a sink can tell every span apart.  `filler` adds an attribute of that many bytes
    to each span."""
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value=service))
    ss = rs.scope_spans.add()
    ss.scope.name = "cobalt.reliability"
    for i in range(first_id, first_id + n_spans):
        span = ss.spans.add(
            trace_id=(i // 8 + 1).to_bytes(16, "big"),
            span_id=i.to_bytes(8, "big"),
            name="GET /servers/{id}",
            kind=2,
            start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_000_001_000_000 + i,
        )
        if filler:
            span.attributes.add(key="filler", value=common_pb2.AnyValue(string_value="x" * filler))
    return req.SerializeToString()


def make_batch(first_id: int, n_spans: int) -> SpanBatch:
    return SpanBatch(data=make_request(first_id, n_spans), span_count=n_spans)


def span_ids(data: bytes) -> list[int]:
    msg = RequestRaw.FromString(data)
    return [
        int.from_bytes(SpanLite.FromString(span).span_id, "big")
        for rs in msg.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def make_settings(type_: str = "otlp", name: str = "", kind: Kind = Kind.EXPORTER) -> CreateSettings:
    return CreateSettings(id=ComponentID(type_, name), kind=kind, telemetry=Telemetry())


def run(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))
