"""Read the few span fields tail sampling needs, from serialized spans.

`scan(spans)` returns one tuple per span: (trace_id, span_id, parent_span_id, start, end,
status_code, flags).  It uses the shared `cobalt_trace.wire.spanview.scan_spans` when that module
exists (native scanner with its own fallback) and the upb `SpanLite` schema otherwise; switching
is this one import.
"""

from __future__ import annotations

from ....wire.otlp_raw import SpanLite

__all__ = ["scan", "lite_spans"]

_from_string = SpanLite.FromString


def lite_spans(spans: list[bytes]) -> list:
    """Full header views (incl. `trace_state`), for the rare policies that need them."""
    return [_from_string(s) for s in spans]


def _scan_lite(spans: list[bytes]) -> list[tuple]:
    out = []
    append = out.append
    for s in spans:
        m = _from_string(s)
        append(
            (
                m.trace_id,
                b"",
                m.parent_span_id,
                m.start_time_unix_nano,
                m.end_time_unix_nano,
                m.status.code,
                m.flags,
            )
        )
    return out


try:  # the shared scanner, once it exists
    from ....wire.spanview import scan_spans as _shared_scan  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on what is installed
    _shared_scan = None


def _scan_shared(spans: list[bytes]) -> list[tuple]:
    fields = _shared_scan(spans)
    if fields and not isinstance(fields[0], tuple):
        return [
            (f.trace_id, f.span_id, f.parent_span_id, f.start, f.end, f.status_code, f.flags) for f in fields
        ]
    return fields


scan = _scan_shared if _shared_scan is not None else _scan_lite
