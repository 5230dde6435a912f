"""Whole-request validation of OTLP trace bytes without building objects per span.

The native scanner (`_scan.validate_request`) walks the wire format directly; without it, the
request is fully parsed with the generated protobuf classes and the id lengths are checked, which
accepts and rejects the same inputs, only slower.  `COBALT_TRACE_PURE_PYTHON=1` forces the
fallback (tests run both).
"""

from __future__ import annotations

import os

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .errors import WireError

__all__ = ["validate_request", "NATIVE"]

_native = None
if not os.environ.get("COBALT_TRACE_PURE_PYTHON"):
    try:
        from . import _scan

        _native = getattr(_scan, "validate_request", None)
    except ImportError:
        _native = None

NATIVE = _native is not None


def _check_id(value: bytes, size: int, where: str, optional: bool) -> None:
    # As the collector's pdata: an id is absent (0 bytes) or exactly `size` bytes.
    if optional and not value:
        return
    if len(value) != size:
        raise WireError(f"{where}: must be {size} bytes, got {len(value)}")


def _validate_python(data: bytes) -> int:
    try:
        req = ExportTraceServiceRequest.FromString(data)
    except DecodeError as exc:
        raise WireError(f"not a valid ExportTraceServiceRequest: {exc}") from None
    count = 0
    for r, rs in enumerate(req.resource_spans):
        for s, ss in enumerate(rs.scope_spans):
            for i, span in enumerate(ss.spans):
                where = f"resource_spans[{r}].scope_spans[{s}].spans[{i}]"
                _check_id(span.trace_id, 16, f"{where}.trace_id", optional=True)
                _check_id(span.span_id, 8, f"{where}.span_id", optional=True)
                _check_id(span.parent_span_id, 8, f"{where}.parent_span_id", optional=True)
                for j, link in enumerate(span.links):
                    _check_id(link.trace_id, 16, f"{where}.links[{j}].trace_id", optional=True)
                    _check_id(link.span_id, 8, f"{where}.links[{j}].span_id", optional=True)
            count += len(ss.spans)
    return count


def validate_request(data: bytes) -> int:
    """The number of spans in `data`; raises `WireError` naming the first bad place."""
    if _native is not None:
        try:
            return _native(data)
        except ValueError as exc:
            raise WireError(str(exc)) from None
    return _validate_python(data)
