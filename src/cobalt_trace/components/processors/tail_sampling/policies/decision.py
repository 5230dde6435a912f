"""Sampling decisions, with upstream's names (`pkg/samplingpolicy`), and what a policy sees.

Decisions are small ints so the decision loop compares them cheaply.  The inverted ones are
deprecated upstream but still decide precedence (see `processor.combine`).
"""

from __future__ import annotations

import enum
from typing import Protocol

__all__ = ["Decision", "Evaluator", "TraceView"]


class Decision(enum.IntEnum):
    UNSPECIFIED = 0
    PENDING = 1
    SAMPLED = 2
    NOT_SAMPLED = 3
    DROPPED = 4
    ERROR = 5
    INVERT_SAMPLED = 6
    INVERT_NOT_SAMPLED = 7


class TraceView(Protocol):
    """What policies read about one buffered trace.

    Summary fields are kept while spans arrive; the lazy methods decode only when a policy asks
    (and only once per decision).
    """

    trace_id: bytes
    span_count: int
    min_start: int  # running min/max with upstream's "0 means unset" rule
    max_end: int
    status_mask: int  # bit (1 << code) for every span status code seen
    sampled_flag: int  # 1 when any span has the W3C sampled flag

    def lite_spans(self) -> list: ...  # SpanLite messages in arrival order

    def attribute_groups(self) -> list[tuple[dict, list[dict]]]: ...  # (resource attrs, span attrs)

    def size_bytes(self) -> int: ...  # serialized TracesData size of the trace


class Evaluator(Protocol):
    stateful: bool

    def evaluate(self, trace: TraceView) -> Decision: ...
