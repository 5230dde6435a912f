"""Span views over serialized spans: the few header fields routing and sampling need, and full
decodes for the processors that need attributes.

`scan_spans` reads `SpanFields` from span bytes without decoding attributes: the native scanner
when built, else a skinny upb message (`SpanLite`) per span.  `decode_*` / `encode_span` are the
full protobuf decodes, only for spans, resources or scopes a processor actually changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ._accel import native
from .errors import WireError
from .otlp_raw import SpanLite

__all__ = [
    "SpanFields",
    "decode_resource",
    "decode_scope",
    "decode_span",
    "encode_span",
    "scan_spans",
    "scan_spans_native",
    "scan_spans_pure",
]


class SpanFields(NamedTuple):
    """Header fields of one span; ids are raw bytes (b"" when unset), times in ns since epoch."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    start: int
    end: int
    status_code: int
    flags: int
    trace_state: str


_lite = SpanLite.FromString


def scan_spans_pure(spans: Sequence[bytes]) -> list[SpanFields]:
    out = []
    append = out.append
    for i, data in enumerate(spans):
        try:
            s = _lite(data)
        except DecodeError as exc:
            raise WireError(f"spans[{i}]: not a valid Span: {exc}") from None
        append(
            SpanFields(
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.start_time_unix_nano,
                s.end_time_unix_nano,
                s.status.code,
                s.flags,
                s.trace_state,
            )
        )
    return out


def _scan_native(spans: Sequence[bytes]) -> list[SpanFields]:
    try:
        return native.scan_spans(spans)
    except ValueError as exc:
        raise WireError(str(exc)) from None


if native is not None:
    native.set_fields_type(SpanFields)  # the scanner builds SpanFields directly, no per-span wrapping
    scan_spans_native = _scan_native
else:
    scan_spans_native = None

# scan_spans(spans) -> [SpanFields]; WireError names the first malformed span.
scan_spans = scan_spans_native or scan_spans_pure


def _decode(cls, data: bytes, what: str):
    try:
        return cls.FromString(data)
    except DecodeError as exc:
        raise WireError(f"{what}: {exc}") from None


def decode_span(data: bytes) -> Span:
    """The full `Span` message of serialized span bytes."""
    return _decode(Span, data, "span")


def encode_span(span: Span) -> bytes:
    return span.SerializeToString()


def decode_resource(data: bytes) -> Resource:
    return _decode(Resource, data, "resource")


def decode_scope(data: bytes) -> InstrumentationScope:
    return _decode(InstrumentationScope, data, "scope")
