"""Policies that read only what the trace summary or the span headers hold: `always_sample`,
`latency`, `status_code`, `span_count`, `trace_flags`, `trace_state`.

Semantics follow contrib `internal/sampling/{always_sample,latency,status_code,
span_count_sampler,trace_flags,trace_state_filter}.go`.
"""

from __future__ import annotations

import re

from .decision import Decision

__all__ = ["AlwaysSample", "Latency", "StatusCode", "SpanCount", "TraceFlags", "TraceState", "duration_ms"]

_SAMPLED, _NOT = Decision.SAMPLED, Decision.NOT_SAMPLED
_I64 = (1 << 63) - 1


def duration_ms(start: int, end: int) -> int:
    """Go's `end.Sub(start).Milliseconds()`: int64 nanoseconds, saturated, truncated toward 0."""
    d = max(-_I64 - 1, min(_I64, end - start))
    return d // 1_000_000 if d >= 0 else -((-d) // 1_000_000)


class AlwaysSample:
    stateful = False

    def evaluate(self, trace) -> Decision:
        return _SAMPLED


class Latency:
    """Duration = max(end) - min(start) over the trace's spans.

    Upstream checks the running duration after each span and stops at the first span for which
    it matches.  Without an upper bound that equals checking the final duration (the summary);
    with one, a prefix of the trace can match even when the whole trace is longer, so that case
    walks the spans in arrival order like upstream does.
    """

    stateful = False

    def __init__(self, threshold_ms: int, upper_threshold_ms: int = 0):
        self.threshold_ms = threshold_ms
        self.upper_threshold_ms = upper_threshold_ms

    def evaluate(self, trace) -> Decision:
        lo, hi = self.threshold_ms, self.upper_threshold_ms
        if hi == 0:
            if trace.span_count and duration_ms(trace.min_start, trace.max_end) >= lo:
                return _SAMPLED
            return _NOT
        mn = mx = 0
        for span in trace.lite_spans():
            start, end = span.start_time_unix_nano, span.end_time_unix_nano
            if mn == 0 or start < mn:
                mn = start
            if mx == 0 or end > mx:
                mx = end
            if lo < duration_ms(mn, mx) <= hi:
                return _SAMPLED
        return _NOT


class StatusCode:
    stateful = False

    def __init__(self, codes: list[int]):
        self.mask = 0
        for code in codes:
            self.mask |= 1 << code

    def evaluate(self, trace) -> Decision:
        return _SAMPLED if trace.status_mask & self.mask else _NOT


class SpanCount:
    stateful = False

    def __init__(self, min_spans: int, max_spans: int):
        self.min_spans = min_spans
        self.max_spans = max_spans

    def evaluate(self, trace) -> Decision:
        n = trace.span_count
        if self.max_spans == 0:
            return _SAMPLED if n >= self.min_spans else _NOT
        return _SAMPLED if self.min_spans <= n <= self.max_spans else _NOT


class TraceFlags:
    """Sampled when any span carries the W3C `sampled` flag (bit 0 of `Span.flags`)."""

    stateful = False

    def evaluate(self, trace) -> Decision:
        return _SAMPLED if trace.sampled_flag else _NOT


# W3C trace-context level 1 tracestate grammar, as go.opentelemetry.io/otel/trace checks it.
_KEY = re.compile(r"[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}")
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_MAX_MEMBERS = 32


def parse_trace_state(text: str) -> dict[str, str] | None:
    """The members of a W3C `tracestate` header, or None when it is invalid (Go's ParseTraceState
    returns an error and the policy treats the span as not matching)."""
    members: dict[str, str] = {}
    if not text:
        return members
    for part in text.split(","):
        part = part.strip(" \t")
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value) or key in members:
            return None
        members[key] = value
        if len(members) > _MAX_MEMBERS:
            return None
    return members


class TraceState:
    stateful = False

    def __init__(self, key: str, values: list[str]):
        self.key = key
        # a key=value pair cannot exceed 256 characters, so longer values can never match
        self.values = {v for v in values if v and len(key) + len(v) < 256}

    def evaluate(self, trace) -> Decision:
        for span in trace.lite_spans():
            members = parse_trace_state(span.trace_state)
            if members is not None and members.get(self.key, "") in self.values:
                return _SAMPLED
        return _NOT
