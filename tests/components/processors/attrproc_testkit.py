"""Helpers for the batch/resource/attributes processor tests: real OTLP messages turned into
`SpanBatch`es, a recording consumer, and component settings."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from cobalt_trace.pipeline.client import current_client
from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.wire.batch import SpanBatch

_counter = iter(range(1, 1 << 30))


def value(raw: Any) -> AnyValue:
    if isinstance(raw, bool):
        return AnyValue(bool_value=raw)
    if isinstance(raw, int):
        return AnyValue(int_value=raw)
    if isinstance(raw, float):
        return AnyValue(double_value=raw)
    if isinstance(raw, bytes):
        return AnyValue(bytes_value=raw)
    if isinstance(raw, list):
        out = AnyValue()
        out.array_value.values.extend(value(x) for x in raw)
        return out
    return AnyValue(string_value=raw)


def kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=value(v)) for k, v in attrs.items()]


def py(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [py(x) for x in v.array_value.values]
    return None if kind is None else getattr(v, kind)


def attrs_dict(attrs) -> dict[str, Any]:
    return {kv.key: py(kv.value) for kv in attrs}


def span(name: str = "op", kind: int = Span.SPAN_KIND_SERVER, attrs: dict | None = None, **fields) -> Span:
    n = next(_counter)
    s = Span(
        trace_id=n.to_bytes(16, "big"),
        span_id=n.to_bytes(8, "big"),
        name=name,
        kind=kind,
        start_time_unix_nano=1_700_000_000_000_000_000 + n,
        end_time_unix_nano=1_700_000_000_000_100_000 + n,
        **fields,
    )
    s.attributes.extend(kvs(attrs or {}))
    return s


def request(*resources) -> ExportTraceServiceRequest:
    """resources: (resource attrs, [(scope name, scope version, [Span, ...]), ...])"""
    req = ExportTraceServiceRequest()
    for res_attrs, scopes in resources:
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(kvs(res_attrs))
        for scope_name, scope_version, spans in scopes:
            ss = rs.scope_spans.add()
            ss.scope.name = scope_name
            ss.scope.version = scope_version
            ss.spans.extend(spans)
    return req


def to_batch(req: ExportTraceServiceRequest) -> SpanBatch:
    return SpanBatch.from_bytes(req.SerializeToString(), validate=False)


def simple_batch(n: int, prefix: str = "s", service: str = "svc") -> SpanBatch:
    """`n` spans named prefix0..prefix{n-1} under one resource and scope."""
    spans = [span(f"{prefix}{i}") for i in range(n)]
    return to_batch(request(({"service.name": service}, [("lib", "1", spans)])))


def decoded(batch: SpanBatch) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(batch.to_bytes())


def span_names(batch: SpanBatch) -> list[str]:
    return [s.name for rs in decoded(batch).resource_spans for ss in rs.scope_spans for s in ss.spans]


def raw_spans(batch: SpanBatch) -> list[bytes]:
    return [bytes(s) for _, _, s in batch.iter_spans()]


def settings(type_: str, name: str = "") -> CreateSettings:
    return CreateSettings(ComponentID(type_, name), Kind.PROCESSOR, Telemetry())


def config(cls: type, raw: dict) -> Any:
    cfg, errors = decode(cls, raw, "processors::test")
    assert errors == [], errors
    return cfg


def config_errors(cls: type, raw: dict) -> list[str]:
    return decode(cls, raw, "processors::test")[1]


class Sink:
    """Records every batch (and the client it was sent with); can block or fail on demand."""

    mutates_data = False

    def __init__(self, fail: Exception | None = None):
        self.batches: list[SpanBatch] = []
        self.clients = []
        self.fail = fail
        self.gate: asyncio.Event | None = None
        self.arrived: asyncio.Queue = asyncio.Queue()

    async def consume(self, batch: SpanBatch) -> None:
        self.batches.append(batch)
        self.clients.append(current_client())
        self.arrived.put_nowait(batch)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail

    async def next(self, timeout: float = 5.0) -> SpanBatch:
        return await asyncio.wait_for(self.arrived.get(), timeout)

    @property
    def names(self) -> list[str]:
        return [n for b in self.batches for n in span_names(b)]
