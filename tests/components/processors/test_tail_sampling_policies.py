"""tail_sampling policy evaluators, one upstream type at a time, plus decision precedence and the
FNV-1a hash that must match the Go collector bit for bit."""

from __future__ import annotations

import random

import pytest
from opentelemetry.proto.common.v1 import common_pb2

from cobalt_trace.components.processors.tail_sampling.policies import Decision, fnv1a_64, sampling_threshold
from cobalt_trace.components.processors.tail_sampling.policies.attributes import (
    BooleanAttribute,
    NumericAttribute,
    StringAttribute,
)
from cobalt_trace.components.processors.tail_sampling.policies.combinators import (
    And,
    Composite,
    Drop,
    Not,
    SubPolicy,
    rate_allocations,
)
from cobalt_trace.components.processors.tail_sampling.policies.limiting import BytesLimiting, RateLimiting
from cobalt_trace.components.processors.tail_sampling.policies.probabilistic import Probabilistic
from cobalt_trace.components.processors.tail_sampling.policies.simple import (
    AlwaysSample,
    Latency,
    SpanCount,
    StatusCode,
    TraceFlags,
    TraceState,
    duration_ms,
    parse_trace_state,
)
from cobalt_trace.components.processors.tail_sampling.processor import combine
from cobalt_trace.wire.otlp_raw import SpanLite

S, N, D = Decision.SAMPLED, Decision.NOT_SAMPLED, Decision.DROPPED
IS, INS = Decision.INVERT_SAMPLED, Decision.INVERT_NOT_SAMPLED
MS = 1_000_000


def value(v) -> common_pb2.AnyValue:
    if isinstance(v, bool):
        return common_pb2.AnyValue(bool_value=v)
    if isinstance(v, int):
        return common_pb2.AnyValue(int_value=v)
    if isinstance(v, float):
        return common_pb2.AnyValue(double_value=v)
    return common_pb2.AnyValue(string_value=v)


class View:
    """A TraceView built by hand."""

    def __init__(
        self, *, tid=bytes(16), spans=(), resource=None, span_attrs=(), statuses=(), flags=0, size=0
    ):
        self.trace_id = tid
        self._lite = [
            SpanLite(start_time_unix_nano=a, end_time_unix_nano=b, trace_state=ts) for a, b, ts in spans
        ]
        self.span_count = len(self._lite) or max(1, len(span_attrs))
        mn = mx = 0
        for s in self._lite:
            mn = s.start_time_unix_nano if mn == 0 or s.start_time_unix_nano < mn else mn
            mx = s.end_time_unix_nano if mx == 0 or s.end_time_unix_nano > mx else mx
        self.min_start, self.max_end = mn, mx
        self.status_mask = sum(1 << c for c in set(statuses))
        self.sampled_flag = flags & 1
        res = {k: value(v) for k, v in (resource or {}).items()}
        self._groups = [(res, [{k: value(v) for k, v in a.items()} for a in span_attrs])]
        self._size = size

    def lite_spans(self):
        return self._lite

    def attribute_groups(self):
        return self._groups

    def size_bytes(self):
        return self._size


class Fixed:
    stateful = False

    def __init__(self, decision):
        self.decision = decision

    def evaluate(self, trace):
        return self.decision


class Clock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


# -- FNV-1a and the probabilistic threshold -------------------------------------------------------------
@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", 0xCBF29CE484222325),  # FNV spec / Go hash/fnv golden values
        (b"a", 0xAF63DC4C8601EC8C),
        (b"foobar", 0x85944171F73967E8),
    ],
)
def test_fnv1a_64_known_answers(data, expected):
    assert fnv1a_64(data) == expected


def test_fnv1a_64_continues_from_the_salt_state():
    salt, tid = b"default-hash-seed", bytes(range(16))
    assert fnv1a_64(tid, fnv1a_64(salt)) == fnv1a_64(salt + tid)


@pytest.mark.parametrize(
    "ratio, expected",
    [
        (1.0, 2**64 - 1),
        (1.5, 2**64 - 1),
        (0.0, 0),
        (-0.5, 0),
        (0.5, 2**63 - 1),  # (2^64-1)/2 = 2^63 - 0.5 is exact in 64 bits, then truncated
        # float 0.1 is slightly above 1/10: (2^64-1) * 0.1 = …263.9, rounded to a 1/8 step (…263.875)
        (0.1, 1844674407370955263),
    ],
)
def test_threshold_uses_upstream_big_float_arithmetic(ratio, expected):
    assert sampling_threshold(ratio) == expected


def test_probabilistic_decides_by_salted_hash():
    p = Probabilistic("", 10)
    rnd = random.Random(1)
    ids = [rnd.randbytes(16) for _ in range(20000)]
    seed = fnv1a_64(b"default-hash-seed")
    for tid in ids[:500]:
        want = S if fnv1a_64(tid, seed) <= p.threshold else N
        assert p.evaluate(View(tid=tid)) == want
    share = sum(p.evaluate(View(tid=t)) == S for t in ids) / len(ids)
    assert 0.09 < share < 0.11
    salted = Probabilistic("other-salt", 10)
    assert [salted.evaluate(View(tid=t)) for t in ids[:200]] != [p.evaluate(View(tid=t)) for t in ids[:200]]
    assert Probabilistic("", 100).evaluate(View(tid=ids[0])) == S
    assert Probabilistic("", 0).evaluate(View(tid=ids[0])) == N


# -- simple policies -------------------------------------------------------------------------------------
def test_always_sample():
    assert AlwaysSample().evaluate(View()) == S


def test_latency_uses_max_end_minus_min_start():
    trace = View(spans=[(1000 * MS, 1400 * MS, ""), (1200 * MS, 2000 * MS, "")])  # 1000 ms overall
    assert Latency(1000).evaluate(trace) == S
    assert Latency(1001).evaluate(trace) == N
    assert Latency(500, 1000).evaluate(trace) == S
    assert Latency(1000, 2000).evaluate(trace) == N  # lower bound is exclusive with an upper bound


def test_latency_upper_bound_matches_on_a_prefix_like_upstream():
    # spans in arrival order: after the first, 500 ms; after both, 5 s
    trace = View(spans=[(0 * MS + 1, 500 * MS + 1, ""), (1, 5000 * MS + 1, "")])
    assert Latency(100, 1000).evaluate(trace) == S
    late_first = View(spans=[(1, 5000 * MS + 1, ""), (1, 500 * MS + 1, "")])
    assert Latency(100, 1000).evaluate(late_first) == N


def test_duration_truncates_toward_zero_like_go():
    assert duration_ms(0, 1_999_999) == 1
    assert duration_ms(1_999_999, 0) == -1


def test_status_code():
    assert StatusCode([2]).evaluate(View(statuses=[1, 2])) == S
    assert StatusCode([2]).evaluate(View(statuses=[0, 1])) == N
    assert StatusCode([0, 1]).evaluate(View(statuses=[0])) == S


def test_span_count_is_inclusive_and_zero_max_means_unbounded():
    three = View(span_attrs=[{}, {}, {}])
    assert SpanCount(3, 0).evaluate(three) == S
    assert SpanCount(3, 3).evaluate(three) == S
    assert SpanCount(4, 0).evaluate(three) == N
    assert SpanCount(1, 2).evaluate(three) == N


def test_trace_flags():
    assert TraceFlags().evaluate(View(flags=0x101)) == S
    assert TraceFlags().evaluate(View(flags=0x100)) == N


def test_trace_state():
    ts = TraceState("vendor", ["keep", "x" * 250])
    assert ts.evaluate(View(spans=[(1, 2, "a=1"), (1, 2, "other=2, vendor=keep")])) == S
    assert ts.evaluate(View(spans=[(1, 2, "vendor=drop")])) == N
    assert ts.evaluate(View(spans=[(1, 2, "vendor=keep,vendor=keep")])) == N  # invalid header
    assert TraceState("vendor", ["x" * 250]).values == set()  # key=value would exceed 256 chars


def test_trace_state_parsing_follows_w3c():
    assert parse_trace_state("a=1,b@t=2") == {"a": "1", "b@t": "2"}
    assert parse_trace_state("") == {}
    assert parse_trace_state("A=1") is None
    assert parse_trace_state("a=") is None
    assert parse_trace_state(",".join(f"k{i}=v" for i in range(33))) is None


# -- attribute policies --------------------------------------------------------------------------------
def test_string_attribute_exact_on_resource_and_spans():
    p = StringAttribute("http.route", ["/a", "/b"])
    assert p.evaluate(View(span_attrs=[{"http.route": "/x"}, {"http.route": "/b"}])) == S
    assert p.evaluate(View(resource={"http.route": "/a"}, span_attrs=[{}])) == S
    assert p.evaluate(View(span_attrs=[{"http.route": "/c"}])) == N
    assert p.evaluate(View(span_attrs=[{"http.route": 5}])) == N  # other types read as ""


def test_string_attribute_regex_is_not_anchored_and_cached():
    p = StringAttribute("db", ["^mysql", "redis"], regex=True, cache_max_size=2)
    assert p.evaluate(View(span_attrs=[{"db": "my-redis-1"}])) == S
    assert p.evaluate(View(span_attrs=[{"db": "mysql-main"}])) == S
    assert p.evaluate(View(span_attrs=[{"db": "postgres"}])) == N
    assert len(p._cache) == 2


def test_string_attribute_empty_span_values_are_skipped_but_resource_ones_are_not():
    p = StringAttribute("k", [".*"], regex=True)
    assert p.evaluate(View(span_attrs=[{"k": ""}])) == N
    assert p.evaluate(View(resource={"k": ""}, span_attrs=[{}])) == S


def test_string_attribute_inverted():
    p = StringAttribute("env", ["test"], invert_match=True)
    assert p.evaluate(View(span_attrs=[{"env": "prod"}, {}])) == IS
    assert p.evaluate(View(span_attrs=[{"env": "prod"}, {"env": "test"}])) == INS
    assert p.evaluate(View(resource={"env": "test"}, span_attrs=[{}])) == INS


def test_numeric_attribute_bounds_and_unset_zeroes():
    assert NumericAttribute("code", 500, 599).evaluate(View(span_attrs=[{"code": 503}])) == S
    assert NumericAttribute("code", 500, 599).evaluate(View(span_attrs=[{"code": 404}])) == N
    assert NumericAttribute("code", 500, 0).evaluate(View(span_attrs=[{"code": 10**12}])) == S  # no max
    assert NumericAttribute("code", 0, 10).evaluate(View(span_attrs=[{"code": -(10**12)}])) == S  # no min
    assert NumericAttribute("code", -5, 5).evaluate(View(span_attrs=[{"code": "abc"}])) == S  # reads as 0
    assert (
        NumericAttribute("code", 500, 599, invert_match=True).evaluate(View(span_attrs=[{"code": 503}]))
        == INS
    )
    assert (
        NumericAttribute("code", 500, 599, invert_match=True).evaluate(View(span_attrs=[{"code": 200}])) == IS
    )


def test_boolean_attribute():
    assert BooleanAttribute("debug", True).evaluate(View(span_attrs=[{"debug": True}])) == S
    assert BooleanAttribute("debug", True).evaluate(View(span_attrs=[{"debug": False}])) == N
    assert (
        BooleanAttribute("debug", False).evaluate(View(span_attrs=[{"debug": "yes"}])) == S
    )  # reads as false
    assert BooleanAttribute("debug", True).evaluate(View(resource={"debug": True}, span_attrs=[{}])) == S
    assert (
        BooleanAttribute("debug", True, invert_match=True).evaluate(View(span_attrs=[{"debug": True}])) == INS
    )
    assert BooleanAttribute("debug", True, invert_match=True).evaluate(View(span_attrs=[{}])) == IS


# -- limiting ----------------------------------------------------------------------------------------
def test_rate_limiting_is_a_token_bucket_with_twice_the_rate_as_burst():
    clock = Clock()
    p = RateLimiting(10, 0, clock)
    ten = View(span_attrs=[{}] * 10)
    assert [p.evaluate(ten) for _ in range(3)] == [S, S, N]  # bucket starts full with 20
    clock.t += 0.5  # +5 tokens
    assert p.evaluate(ten) == N
    clock.t += 0.5  # +10 tokens total
    assert p.evaluate(ten) == S
    assert p.evaluate(View(span_attrs=[{}] * 21)) == N  # larger than the burst: never
    custom = RateLimiting(10, 5, clock)
    assert custom.evaluate(ten) == N


def test_bytes_limiting_charges_the_serialized_size():
    clock = Clock()
    p = BytesLimiting(1000, 1500, clock)
    assert p.evaluate(View(size=1000)) == S
    assert p.evaluate(View(size=1000)) == N
    clock.t += 0.5
    assert p.evaluate(View(size=1000)) == S
    assert p.evaluate(View(size=1600)) == N


# -- compound policies --------------------------------------------------------------------------------
def test_and_needs_every_sub_policy():
    assert And([Fixed(S), Fixed(IS)]).evaluate(View()) == S
    assert And([Fixed(S), Fixed(N)]).evaluate(View()) == N
    assert And([Fixed(S), Fixed(INS)]).evaluate(View()) == N


def test_not_flips_sampled_and_not_sampled_only():
    assert Not(Fixed(S)).evaluate(View()) == N
    assert Not(Fixed(N)).evaluate(View()) == S
    assert Not(Fixed(IS)).evaluate(View()) == IS


def test_drop_needs_every_sub_policy_to_match():
    assert Drop([Fixed(S), Fixed(S)]).evaluate(View()) == D
    assert Drop([Fixed(S), Fixed(INS)]).evaluate(View()) == N


def test_composite_charges_the_first_sampling_sub_policy_per_second():
    clock = Clock(1000.2)
    budget = rate_allocations(10, ["errors", "rest"], [("errors", 60), ("rest", 40)])
    assert budget == {"errors": 6, "rest": 4}
    errors, rest = Fixed(N), Fixed(S)
    c = Composite(
        10, [SubPolicy("errors", errors, budget["errors"]), SubPolicy("rest", rest, budget["rest"])], clock
    )
    three = View(span_attrs=[{}] * 3)
    assert c.evaluate(three) == S and c.last_sampled_by == "rest"
    assert c.evaluate(three) == N  # 6 > 4: over budget, nothing charged
    assert c.evaluate(View(span_attrs=[{}])) == S  # a smaller trace still fits
    errors.decision = S
    assert c.evaluate(three) == S and c.last_sampled_by == "errors"
    clock.t = 1001.0  # a new second resets the budgets
    errors.decision = N
    assert c.evaluate(three) == S


def test_rate_allocation_defaults_and_unlisted_sub_policies():
    # percent <= 0 gets an equal share; a sub-policy missing from rate_allocation gets nothing
    assert rate_allocations(90, ["a", "b", "c"], [("a", 0), ("b", 50)]) == {"a": 30, "b": 45}
    c = Composite(90, [SubPolicy("c", Fixed(S), 0)], Clock())
    assert c.evaluate(View()) == N


# -- precedence ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "seen, final",
    [
        ({D, S, INS}, D),
        ({INS, S}, N),
        ({S, N}, S),
        ({IS}, S),
        ({IS, N}, N),
        ({N}, N),
        (set(), N),
    ],
)
def test_combine_applies_upstream_precedence(seen, final):
    decisions = {d: f"p{int(d)}" for d in seen}
    got, keeper = combine(decisions)
    assert got == final
    if final == S:
        assert keeper == (decisions[S] if S in seen else decisions[IS])
