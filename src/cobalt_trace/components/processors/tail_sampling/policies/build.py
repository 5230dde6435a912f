"""Config → evaluators (contrib `processor.go` getPolicyEvaluator and the *_helper.go files)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import STATUS_CODES
from .attributes import BooleanAttribute, NumericAttribute, StringAttribute
from .combinators import And, Composite, Drop, Not, SubPolicy, rate_allocations
from .limiting import BytesLimiting, RateLimiting
from .probabilistic import Probabilistic
from .simple import AlwaysSample, Latency, SpanCount, StatusCode, TraceFlags, TraceState

__all__ = ["Needs", "build_policy", "needs_of"]


@dataclass
class Needs:
    """Which span fields the configured policies read at ingest, so the scan skips the rest
    (attributes, trace state and sizes are read lazily at decision time instead)."""

    times: bool = False
    status: bool = False
    flags: bool = False


def build_policy(
    cfg, *, clock: Callable[[], float] = time.monotonic, unix_time: Callable[[], float] = time.time
):
    """One evaluator for a validated policy config (`PolicyConfig` or a sub-policy config)."""
    t = cfg.type
    if t == "always_sample":
        return AlwaysSample()
    if t == "latency":
        return Latency(cfg.latency.threshold_ms, cfg.latency.upper_threshold_ms)
    if t == "numeric_attribute":
        n = cfg.numeric_attribute
        return NumericAttribute(n.key, n.min_value, n.max_value, n.invert_match)
    if t == "probabilistic":
        return Probabilistic(cfg.probabilistic.hash_salt, cfg.probabilistic.sampling_percentage)
    if t == "status_code":
        return StatusCode([STATUS_CODES[c] for c in cfg.status_code.status_codes])
    if t == "string_attribute":
        s = cfg.string_attribute
        return StringAttribute(s.key, s.values, s.enabled_regex_matching, s.cache_max_size, s.invert_match)
    if t == "boolean_attribute":
        b = cfg.boolean_attribute
        return BooleanAttribute(b.key, b.value, b.invert_match)
    if t == "rate_limiting":
        r = cfg.rate_limiting
        return RateLimiting(r.spans_per_second, r.burst_capacity, clock)
    if t == "bytes_limiting":
        b = cfg.bytes_limiting
        return BytesLimiting(b.bytes_per_second, b.burst_capacity, clock)
    if t == "span_count":
        return SpanCount(cfg.span_count.min_spans, cfg.span_count.max_spans)
    if t == "trace_state":
        return TraceState(cfg.trace_state.key, cfg.trace_state.values)
    if t == "trace_flags":
        return TraceFlags()
    if t == "and":
        return And([build_policy(s, clock=clock, unix_time=unix_time) for s in cfg.and_.and_sub_policy])
    if t == "drop":
        return Drop([build_policy(s, clock=clock, unix_time=unix_time) for s in cfg.drop.drop_sub_policy])
    if t == "not":
        return Not(build_policy(cfg.not_.not_sub_policy, clock=clock, unix_time=unix_time))
    if t == "composite":
        c = cfg.composite
        names = [s.name for s in c.composite_sub_policy]
        budget = rate_allocations(
            c.max_total_spans_per_second, names, [(a.policy, a.percent) for a in c.rate_allocation]
        )
        subs = [
            SubPolicy(s.name, build_policy(s, clock=clock, unix_time=unix_time), budget.get(s.name, 0))
            for s in c.composite_sub_policy
        ]
        return Composite(c.max_total_spans_per_second, subs, unix_time)
    raise ValueError(f"unknown sampling policy type {t!r}")


def needs_of(cfg, needs: Needs | None = None) -> Needs:
    """Accumulate what `cfg` (and its sub-policies) read from a trace."""
    needs = needs or Needs()
    t = cfg.type
    if t == "latency":
        needs.times = True
    elif t == "status_code":
        needs.status = True
    elif t == "trace_flags":
        needs.flags = True
    subs = []
    if t == "and":
        subs = cfg.and_.and_sub_policy
    elif t == "drop":
        subs = cfg.drop.drop_sub_policy
    elif t == "not":
        subs = [cfg.not_.not_sub_policy]
    elif t == "composite":
        subs = cfg.composite.composite_sub_policy
    for sub in subs:
        needs_of(sub, needs)
    return needs
