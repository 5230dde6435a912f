"""Policies over sub-policies: `and`, `not`, `drop`, `composite`.

Semantics of contrib `internal/sampling/{and,not,drop,composite}.go`: inverted sub-decisions
count as plain ones inside them; a sub-policy error aborts the whole policy (it is counted as a
policy evaluation error by the processor).
"""

from __future__ import annotations

from collections.abc import Callable

from .decision import Decision

__all__ = ["And", "Not", "Drop", "Composite", "SubPolicy"]

_SAMPLED, _NOT = Decision.SAMPLED, Decision.NOT_SAMPLED
_NEGATIVE = (Decision.NOT_SAMPLED, Decision.INVERT_NOT_SAMPLED)


class And:
    """Sampled unless a sub-policy says NotSampled (or InvertNotSampled)."""

    def __init__(self, subs: list):
        self.subs = subs
        self.stateful = any(s.stateful for s in subs)

    def evaluate(self, trace) -> Decision:
        for sub in self.subs:
            if sub.evaluate(trace) in _NEGATIVE:
                return _NOT
        return _SAMPLED


class Drop:
    """Dropped when every sub-policy matches; otherwise NotSampled (drop policies never keep)."""

    def __init__(self, subs: list):
        self.subs = subs
        self.stateful = any(s.stateful for s in subs)

    def evaluate(self, trace) -> Decision:
        for sub in self.subs:
            if sub.evaluate(trace) in _NEGATIVE:
                return _NOT
        return Decision.DROPPED


class Not:
    """Flips Sampled and NotSampled; any other decision passes through unchanged."""

    def __init__(self, sub):
        self.sub = sub
        self.stateful = sub.stateful

    def evaluate(self, trace) -> Decision:
        d = self.sub.evaluate(trace)
        if d == _SAMPLED:
            return _NOT
        if d == _NOT:
            return _SAMPLED
        return d


class SubPolicy:
    __slots__ = ("name", "evaluator", "allocated_sps", "sampled_sps")

    def __init__(self, name: str, evaluator, allocated_sps: int):
        self.name = name
        self.evaluator = evaluator
        self.allocated_sps = allocated_sps
        self.sampled_sps = 0


class Composite:
    """Sub-policies in order; the first that samples is charged the trace's spans against its
    per-second budget (and the total).  Over budget: NotSampled, and nothing is charged, so a
    smaller trace may still fit.  Budgets reset when the wall-clock second changes."""

    stateful = True

    def __init__(self, max_total_sps: int, subs: list[SubPolicy], unix_time: Callable[[], float]):
        self.max_total_sps = max_total_sps
        self.subs = subs
        self._unix_time = unix_time
        self._second: int | None = None
        self.last_sampled_by = ""  # sub-policy name, for record_policy's tailsampling.composite_policy

    def evaluate(self, trace) -> Decision:
        second = int(self._unix_time())
        if second != self._second:
            self._second = second
            for sub in self.subs:
                sub.sampled_sps = 0
        self.last_sampled_by = ""
        for sub in self.subs:
            d = sub.evaluator.evaluate(trace)
            if d == _SAMPLED or d == Decision.INVERT_SAMPLED:
                spans = sub.sampled_sps + trace.span_count
                if spans <= sub.allocated_sps and spans <= self.max_total_sps:
                    sub.sampled_sps = spans
                    self.last_sampled_by = sub.name
                    return _SAMPLED
                return _NOT
        return _NOT


def rate_allocations(max_total_sps: int, sub_names: list[str], allocations: list[tuple[str, int]]) -> dict:
    """Upstream `getRateAllocationMap`: listed sub-policies get percent x total (or an equal
    share when percent <= 0); sub-policies not listed get no budget at all."""
    default = max_total_sps / len(sub_names) if sub_names else 0.0
    out: dict[str, int] = {}
    for name, percent in allocations:
        out[name] = int((percent / 100) * max_total_sps) if percent > 0 else int(default)
    return out
