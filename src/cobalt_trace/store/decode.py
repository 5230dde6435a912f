"""`SpanBatch` → `SpanRecord`s: the one place the store fully decodes spans.

Resources and scopes are decoded once per `ResourceSpans`/`ScopeSpans`, spans one by one with
upb.  Attribute values become strings the way pdata's `Value.AsString()` does, because the
`otel_traces` schema stores `Map(String, String)`.
"""

from __future__ import annotations

import base64
from decimal import Decimal

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ..wire.batch import SpanBatch
from ..wire.errors import WireError
from .model import KINDS, STATUSES, SpanEvent, SpanLink, SpanRecord

__all__ = ["decode_batch", "value_to_string", "attributes_to_map"]


def decode_batch(batch: SpanBatch) -> list[SpanRecord]:
    """Every span of `batch`; a malformed resource, scope or span raises `WireError`."""
    try:
        return _decode(batch)
    except DecodeError as exc:
        raise WireError(f"malformed span data: {exc}") from None


def _decode(batch: SpanBatch) -> list[SpanRecord]:
    out: list[SpanRecord] = []
    append = out.append
    for rs in batch.peek().resource_spans:
        resource = Resource.FromString(rs.resource)
        res_attrs = attributes_to_map(resource.attributes)
        service = res_attrs.get("service.name", "")
        for ss in rs.scope_spans:
            scope = InstrumentationScope.FromString(ss.scope)
            for raw in ss.spans:
                span = Span.FromString(raw)
                append(_record(span, service, res_attrs, scope.name, scope.version))
    return out


def _record(span: Span, service: str, res_attrs: dict, scope_name: str, scope_version: str) -> SpanRecord:
    start = span.start_time_unix_nano
    end = span.end_time_unix_nano
    kind = span.kind
    code = span.status.code
    return SpanRecord(
        timestamp=start,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        name=span.name,
        kind=KINDS[kind] if 0 <= kind < len(KINDS) else "Unspecified",
        service=service,
        duration=end - start if end > start else 0,
        status_code=STATUSES[code] if 0 <= code < len(STATUSES) else "Unset",
        status_message=span.status.message,
        trace_state=span.trace_state,
        resource_attributes=res_attrs,
        scope_name=scope_name,
        scope_version=scope_version,
        attributes=attributes_to_map(span.attributes) if span.attributes else {},
        events=[
            SpanEvent(e.time_unix_nano, e.name, attributes_to_map(e.attributes) if e.attributes else {})
            for e in span.events
        ],
        links=[
            SpanLink(l.trace_id.hex(), l.span_id.hex(), l.trace_state, attributes_to_map(l.attributes))
            for l in span.links  # noqa: E741
        ],
    )


def attributes_to_map(attributes) -> dict[str, str]:
    return {kv.key: value_to_string(kv.value) for kv in attributes}


def value_to_string(value) -> str:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return str(value.int_value)
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "double_value":
        return _format_double(value.double_value)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which in ("array_value", "kvlist_value"):
        return orjson.dumps(_raw(value)).decode()
    return ""


def _format_double(v: float) -> str:
    # Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent
    if v != v or v in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(v)]
    text = format(Decimal(repr(v)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _raw(value):
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_raw(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which is None:
        return None
    return getattr(value, which)
