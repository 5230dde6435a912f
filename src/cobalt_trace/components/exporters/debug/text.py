"""Human-readable renderings of an `ExportTraceServiceRequest`, shaped like upstream's
`normal` and `detailed` (otlptext) marshalers."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from opentelemetry.proto.trace.v1 import trace_pb2

__all__ = ["normal_text", "detailed_text", "format_value"]

_KINDS = {0: "Unspecified", 1: "Internal", 2: "Server", 3: "Client", 4: "Producer", 5: "Consumer"}
_STATUS = {0: "Unset", 1: "Ok", 2: "Error"}


def _plain(value) -> object:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_plain(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


def format_value(value) -> str:
    """`Str(x)`, `Int(3)`, `Bool(true)`, `Double(1.5)`, `Slice([...])`, `Map({...})`, `Bytes(b64)`, `Empty()`."""
    which = value.WhichOneof("value")
    if which is None:
        return "Empty()"
    if which == "string_value":
        return f"Str({value.string_value})"
    if which == "bool_value":
        return f"Bool({'true' if value.bool_value else 'false'})"
    if which == "int_value":
        return f"Int({value.int_value})"
    if which == "double_value":
        return f"Double({value.double_value:g})"
    if which == "bytes_value":
        return f"Bytes({_plain(value)})"
    label = "Slice" if which == "array_value" else "Map"
    return f"{label}({json.dumps(_plain(value), separators=(',', ':'))})"


def _plain_text(value) -> str:
    p = _plain(value)
    return p if isinstance(p, str) else json.dumps(p, separators=(",", ":"))


def _attrs_inline(attrs) -> str:
    return " ".join(f"{kv.key}={_plain_text(kv.value)}" for kv in attrs)


def _attrs_block(title: str, attrs, out: list[str]) -> None:
    if not len(attrs):
        return
    out.append(f"{title}:")
    for kv in attrs:
        out.append(f"     -> {kv.key}: {format_value(kv.value)}")


def _time(nanos: int) -> str:
    seconds, rest = divmod(nanos, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}.{rest:09d} +0000 UTC"


def normal_text(request) -> str:
    """One line per resource, per scope and per span: `<name> <trace id> <span id> k=v ...`."""
    out: list[str] = []
    for i, rs in enumerate(request.resource_spans):
        schema = f" [{rs.schema_url}]" if rs.schema_url else ""
        attrs = _attrs_inline(rs.resource.attributes)
        out.append(f"ResourceTraces #{i}{schema}" + (f" {attrs}" if attrs else ""))
        for j, ss in enumerate(rs.scope_spans):
            scope = ss.scope.name + (f"@{ss.scope.version}" if ss.scope.version else "")
            out.append(f"ScopeTraces #{j} {scope}".rstrip())
            for span in ss.spans:
                line = f"{span.name} {span.trace_id.hex()} {span.span_id.hex()}"
                attrs = _attrs_inline(span.attributes)
                out.append(line + (f" {attrs}" if attrs else ""))
    return "\n".join(out)


def detailed_text(request) -> str:
    out: list[str] = []
    for i, rs in enumerate(request.resource_spans):
        out.append(f"ResourceSpans #{i}")
        out.append(f"Resource SchemaURL: {rs.schema_url}")
        _attrs_block("Resource attributes", rs.resource.attributes, out)
        for j, ss in enumerate(rs.scope_spans):
            out.append(f"ScopeSpans #{j}")
            out.append(f"ScopeSpans SchemaURL: {ss.schema_url}")
            out.append(f"InstrumentationScope {ss.scope.name} {ss.scope.version}".rstrip())
            _attrs_block("InstrumentationScope attributes", ss.scope.attributes, out)
            for k, span in enumerate(ss.spans):
                _span(k, span, out)
    return "\n".join(out)


def _span(index: int, span: trace_pb2.Span, out: list[str]) -> None:
    out += [
        f"Span #{index}",
        f"    Trace ID       : {span.trace_id.hex()}",
        f"    Parent ID      : {span.parent_span_id.hex()}",
        f"    ID             : {span.span_id.hex()}",
        f"    Name           : {span.name}",
        f"    Kind           : {_KINDS.get(span.kind, str(span.kind))}",
        f"    Start time     : {_time(span.start_time_unix_nano)}",
        f"    End time       : {_time(span.end_time_unix_nano)}",
        f"    Status code    : {_STATUS.get(span.status.code, str(span.status.code))}",
        f"    Status message : {span.status.message}",
    ]
    if span.trace_state:
        out.append(f"    TraceState     : {span.trace_state}")
    _attrs_block("Attributes", span.attributes, out)
    if len(span.events):
        out.append("Events:")
        for n, ev in enumerate(span.events):
            out += [
                f"SpanEvent #{n}",
                f"     -> Name: {ev.name}",
                f"     -> Timestamp: {_time(ev.time_unix_nano)}",
                f"     -> DroppedAttributesCount: {ev.dropped_attributes_count}",
            ]
            _attrs_block("     -> Attributes", ev.attributes, out)
    if len(span.links):
        out.append("Links:")
        for n, link in enumerate(span.links):
            out += [
                f"SpanLink #{n}",
                f"     -> Trace ID: {link.trace_id.hex()}",
                f"     -> ID: {link.span_id.hex()}",
                f"     -> TraceState: {link.trace_state}",
                f"     -> DroppedAttributesCount: {link.dropped_attributes_count}",
            ]
            _attrs_block("     -> Attributes", link.attributes, out)
