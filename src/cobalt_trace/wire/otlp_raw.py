"""Wire-compatible "bytes schema" views of OTLP trace messages, built at import time.

Declaring `Resource`, `InstrumentationScope` and `Span` as `bytes` lets upb parse a whole
`ExportTraceServiceRequest` without creating a Python object per span: span bodies stay the
serialized bytes they arrived as, and re-serializing copies them back verbatim.  Field numbers and
wire types match `opentelemetry/proto/trace/v1/trace.proto`, so these messages read and write the
same bytes as the real ones.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["RequestRaw", "ResourceSpansRaw", "ScopeSpansRaw", "SpanLite", "TracesDataRaw", "build_messages"]

_F = descriptor_pb2.FieldDescriptorProto
OPTIONAL, REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
BYTES, STRING, INT32 = _F.TYPE_BYTES, _F.TYPE_STRING, _F.TYPE_INT32
FIXED32, FIXED64, MESSAGE = _F.TYPE_FIXED32, _F.TYPE_FIXED64, _F.TYPE_MESSAGE


def build_messages(package: str, messages: dict[str, tuple]) -> dict[str, type]:
    """Message classes for a private proto3 schema built at import time.

    `messages` maps a name to its fields `(number, name, type, label, message type name or None)`;
    message types refer to other names of the same `messages`.  Used for wire-compatible partial
    views of OTLP messages such as the ones below.
    """
    file = descriptor_pb2.FileDescriptorProto(
        name=f"{package.replace('.', '/')}.proto", package=package, syntax="proto3"
    )
    for name, fields in messages.items():
        m = file.message_type.add(name=name)
        for number, fname, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".{package}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
        for name in messages
    }


def _build():
    opt, rep = OPTIONAL, REPEATED
    classes = build_messages(
        "cobalt_trace.raw",
        {
            "ScopeSpansRaw": (
                (1, "scope", BYTES, opt, None),
                (2, "spans", BYTES, rep, None),
                (3, "schema_url", STRING, opt, None),
            ),
            "ResourceSpansRaw": (
                (1, "resource", BYTES, opt, None),
                (2, "scope_spans", MESSAGE, rep, "ScopeSpansRaw"),
                (3, "schema_url", STRING, opt, None),
            ),
            # ExportTraceServiceRequest and TracesData share field 1 = repeated ResourceSpans.
            "RequestRaw": ((1, "resource_spans", MESSAGE, rep, "ResourceSpansRaw"),),
            "TracesDataRaw": ((1, "resource_spans", MESSAGE, rep, "ResourceSpansRaw"),),
            "StatusLite": ((2, "message", STRING, opt, None), (3, "code", INT32, opt, None)),
            "SpanLite": (
                (1, "trace_id", BYTES, opt, None),
                (2, "span_id", BYTES, opt, None),
                (3, "trace_state", STRING, opt, None),
                (4, "parent_span_id", BYTES, opt, None),
                (7, "start_time_unix_nano", FIXED64, opt, None),
                (8, "end_time_unix_nano", FIXED64, opt, None),
                (15, "status", MESSAGE, opt, "StatusLite"),
                (16, "flags", FIXED32, opt, None),
            ),
        },
    )
    return tuple(
        classes[n] for n in ("RequestRaw", "ResourceSpansRaw", "ScopeSpansRaw", "SpanLite", "TracesDataRaw")
    )


RequestRaw, ResourceSpansRaw, ScopeSpansRaw, SpanLite, TracesDataRaw = _build()
