"""Wire-compatible "bytes schema" views of OTLP trace messages, built at import time.

Declaring `Resource`, `InstrumentationScope` and `Span` as `bytes` lets upb parse a whole
`ExportTraceServiceRequest` without creating a Python object per span: span bodies stay the
serialized bytes they arrived as, and re-serializing copies them back verbatim.  Field numbers and
wire types match `opentelemetry/proto/trace/v1/trace.proto`, so these messages read and write the
same bytes as the real ones.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["RequestRaw", "ResourceSpansRaw", "ScopeSpansRaw", "SpanLite", "TracesDataRaw"]

_F = descriptor_pb2.FieldDescriptorProto


def _build():
    file = descriptor_pb2.FileDescriptorProto(
        name="cobalt_trace/otlp_raw.proto", package="cobalt_trace.raw", syntax="proto3"
    )

    def message(name, *fields):
        m = file.message_type.add(name=name)
        for number, fname, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".cobalt_trace.raw.{type_name}"

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message(
        "ScopeSpansRaw",
        (1, "scope", _F.TYPE_BYTES, opt, None),
        (2, "spans", _F.TYPE_BYTES, rep, None),
        (3, "schema_url", _F.TYPE_STRING, opt, None),
    )
    message(
        "ResourceSpansRaw",
        (1, "resource", _F.TYPE_BYTES, opt, None),
        (2, "scope_spans", _F.TYPE_MESSAGE, rep, "ScopeSpansRaw"),
        (3, "schema_url", _F.TYPE_STRING, opt, None),
    )
    # ExportTraceServiceRequest and TracesData share field 1 = repeated ResourceSpans.
    message("RequestRaw", (1, "resource_spans", _F.TYPE_MESSAGE, rep, "ResourceSpansRaw"))
    message("TracesDataRaw", (1, "resource_spans", _F.TYPE_MESSAGE, rep, "ResourceSpansRaw"))
    message("StatusLite", (2, "message", _F.TYPE_STRING, opt, None), (3, "code", _F.TYPE_INT32, opt, None))
    message(
        "SpanLite",
        (1, "trace_id", _F.TYPE_BYTES, opt, None),
        (2, "span_id", _F.TYPE_BYTES, opt, None),
        (3, "trace_state", _F.TYPE_STRING, opt, None),
        (4, "parent_span_id", _F.TYPE_BYTES, opt, None),
        (7, "start_time_unix_nano", _F.TYPE_FIXED64, opt, None),
        (8, "end_time_unix_nano", _F.TYPE_FIXED64, opt, None),
        (15, "status", _F.TYPE_MESSAGE, opt, "StatusLite"),
        (16, "flags", _F.TYPE_FIXED32, opt, None),
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    get = message_factory.GetMessageClass
    return tuple(
        get(pool.FindMessageTypeByName(f"cobalt_trace.raw.{n}"))
        for n in ("RequestRaw", "ResourceSpansRaw", "ScopeSpansRaw", "SpanLite", "TracesDataRaw")
    )


RequestRaw, ResourceSpansRaw, ScopeSpansRaw, SpanLite, TracesDataRaw = _build()
