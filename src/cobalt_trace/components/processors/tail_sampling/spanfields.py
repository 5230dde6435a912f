"""Read the few span fields tail sampling needs, from serialized spans.

`Scanner.scan(batch)` yields, per ScopeSpans, the span bytes and the `SpanFields` tuple of each
span from the shared scanner (`cobalt_trace.wire.spanview.scan_spans`: native, with a pure-Python
fallback); `Scanner.index` gives the tuple position of each field the policies need.
"""

from __future__ import annotations

from collections.abc import Iterator

from ....wire.otlp_raw import SpanLite
from ....wire.spanview import scan_spans

__all__ = ["Scanner", "lite_spans", "status_bit"]

_from_string = SpanLite.FromString


def lite_spans(spans: list[bytes]) -> list:
    """Full header views (incl. `trace_state`), for the rare policies that need them."""
    return [_from_string(s) for s in spans]


def status_bit(code: int) -> int:
    """`1 << status code`: a trace's statuses are kept as a bit mask."""
    return 1 << (code & 31)


# positions in the scanner's SpanFields
# (trace_id, span_id, parent_span_id, start, end, status_code, flags, trace_state)
_POSITION = {"parent": 2, "start": 3, "end": 4, "code": 5, "flags": 6}


class Scanner:
    """Reads trace id plus the wanted fields; `index[name]` is each field's tuple position."""

    def __init__(
        self, *, parent: bool = False, times: bool = False, status: bool = False, flags: bool = False
    ):
        fields = (("parent", parent), ("start", times), ("end", times), ("code", status), ("flags", flags))
        wanted = [name for name, on in fields if on] or ["flags"]  # read something: results stay tuples
        # the scanner's SpanFields tuples are used as they are: no second tuple per span
        self.index = {name: _POSITION[name] for name in wanted}

    def scan(self, batch) -> Iterator[tuple[object, object, list[bytes], list[tuple]]]:
        """(resource_spans, scope_spans, span bytes, field tuples) for every non-empty ScopeSpans."""
        for rs in batch.peek().resource_spans:
            for ss in rs.scope_spans:
                spans = list(ss.spans)
                if spans:
                    yield rs, ss, spans, scan_spans(spans)
