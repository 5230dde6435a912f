"""Realistic OTLP trace requests and raw protobuf helpers for the wire tests."""

from __future__ import annotations

import random

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1 import trace_pb2


def kv(key: str, value) -> KeyValue:
    return KeyValue(key=key, value=any_value(value))


def any_value(value) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=[kv(k, v) for k, v in value.items()]))
    return AnyValue(string_value=value)


def make_request(
    resources: int = 3, spans_per_scope: int = 4, scopes: int = 2, seed: int = 1
) -> ExportTraceServiceRequest:
    """Mixed attribute types, events, links, statuses, parents and flags."""
    rnd = random.Random(seed)
    req = ExportTraceServiceRequest()
    n = 0
    for r in range(resources):
        rs = req.resource_spans.add(schema_url="https://opentelemetry.io/schemas/1.24.0")
        rs.resource.attributes.extend([kv("service.name", f"nova-{r}"), kv("host.name", f"node-{r}")])
        for s in range(scopes):
            ss = rs.scope_spans.add()
            ss.scope.name = f"lib.{s}"
            ss.scope.version = "1.0"
            for _ in range(spans_per_scope):
                n += 1
                span = ss.spans.add(
                    trace_id=rnd.randbytes(16),
                    span_id=rnd.randbytes(8),
                    name=f"GET /servers/{n} — ü",
                    kind=rnd.randint(0, 5),
                    start_time_unix_nano=1_700_000_000_000_000_000 + n,
                    end_time_unix_nano=1_700_000_000_000_000_000 + n + rnd.randint(1, 10**9),
                    flags=0x101 if n % 2 else 0,
                )
                if n % 3:
                    span.parent_span_id = rnd.randbytes(8)
                if n % 4 == 0:
                    span.trace_state = "vendor=abc,other=1"
                span.attributes.extend(
                    [
                        kv("http.method", "GET"),
                        kv("http.status_code", 200 + n),
                        kv("ratio", n / 7),
                        kv("ok", bool(n % 2)),
                        kv("neg", -n),
                        kv("list", ["a", 1, 2.5, False]),
                        kv("map", {"k": "v", "n": {"deep": [1]}}),
                        kv("raw", b"\x00\xff" * 3),
                        kv("empty", ""),
                    ]
                )
                span.attributes.add(key="unset")  # KeyValue without a value
                if n % 4 == 1:
                    span.events.add(
                        time_unix_nano=span.start_time_unix_nano + 5, name="retry"
                    ).attributes.extend([kv("attempt", 2), kv("reason", "timeout")])
                if n % 5 == 0:
                    link = span.links.add(trace_id=rnd.randbytes(16), span_id=rnd.randbytes(8), flags=1)
                    link.attributes.append(kv("link.kind", "follows"))
                if n % 7 == 0:
                    span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
                    span.status.message = "boom"
                elif n % 7 == 1:
                    span.status.code = trace_pb2.Status.STATUS_CODE_OK
    return req


def varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number: int, wire: int, payload: bytes | int) -> bytes:
    """One raw field: varint payload for wire 0, length-prefixed bytes for 2, raw bytes otherwise."""
    tag = varint(number << 3 | wire)
    if wire == 0:
        return tag + varint(payload)
    if wire == 2:
        return tag + varint(len(payload)) + payload
    return tag + payload


def wrap_span(span: bytes) -> bytes:
    """A request holding one serialized span in resource_spans[0].scope_spans[0]."""
    return field(1, 2, field(2, 2, field(2, 2, span)))
