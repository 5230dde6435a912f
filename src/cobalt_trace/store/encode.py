"""`SpanRecord`s → OTLP `TracesData` (== Tempo's `tempopb.Trace` on the wire).

Spans are grouped back into one `ResourceSpans` per distinct resource and one `ScopeSpans` per
scope, in first-seen order.  Attribute values come back as strings: the schema keeps no types.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status, TracesData

from .model import KINDS, STATUSES, SpanRecord

__all__ = ["records_to_traces_data"]

_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
_STATUS_INDEX = {s: i for i, s in enumerate(STATUSES)}


def records_to_traces_data(records: Iterable[SpanRecord]) -> TracesData:
    data = TracesData()
    resources: dict[tuple, tuple[ResourceSpans, dict]] = {}
    for rec in records:
        rkey = tuple(sorted(rec.resource_attributes.items()))
        entry = resources.get(rkey)
        if entry is None:
            rs = data.resource_spans.add()
            rs.resource.attributes.extend(_kvs(rec.resource_attributes))
            entry = resources[rkey] = (rs, {})
        rs, scopes = entry
        skey = (rec.scope_name, rec.scope_version)
        ss = scopes.get(skey)
        if ss is None:
            ss = scopes[skey] = rs.scope_spans.add()
            ss.scope.name, ss.scope.version = skey
        _fill_span(ss.spans.add(), rec)
    return data


def _fill_span(span: Span, rec: SpanRecord) -> None:
    span.trace_id = bytes.fromhex(rec.trace_id)
    span.span_id = bytes.fromhex(rec.span_id)
    if rec.parent_span_id:
        span.parent_span_id = bytes.fromhex(rec.parent_span_id)
    span.trace_state = rec.trace_state
    span.name = rec.name
    span.kind = _KIND_INDEX.get(rec.kind, 0)
    span.start_time_unix_nano = rec.timestamp
    span.end_time_unix_nano = rec.timestamp + rec.duration
    span.attributes.extend(_kvs(rec.attributes))
    code = _STATUS_INDEX.get(rec.status_code, 0)
    if code or rec.status_message:
        span.status.CopyFrom(Status(code=code, message=rec.status_message))
    for ev in rec.events:
        e = span.events.add(time_unix_nano=ev.timestamp, name=ev.name)
        e.attributes.extend(_kvs(ev.attributes))
    for ln in rec.links:
        link = span.links.add(trace_id=bytes.fromhex(ln.trace_id), span_id=bytes.fromhex(ln.span_id))
        link.trace_state = ln.trace_state
        link.attributes.extend(_kvs(ln.attributes))


def _kvs(attrs: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attrs.items()]
