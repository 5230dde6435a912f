"""`tail_sampling` config: the contrib `tailsamplingprocessor` keys and defaults, in one place.

Upstream: `processor/tailsamplingprocessor/config.go` and `factory.go` (decision_wait 30s,
num_traces 50000).  `record_policy` is ours: upstream turns the same behaviour on with the
`processor.tailsamplingprocessor.recordpolicy` feature gate, which a config file cannot reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ....pipeline.configtypes import Duration

__all__ = [
    "Config",
    "DecisionCacheConfig",
    "PolicyConfig",
    "SharedPolicyConfig",
    "CompositeSubPolicyConfig",
    "CompositeConfig",
    "RateAllocationConfig",
    "AndConfig",
    "NotConfig",
    "DropConfig",
    "LatencyConfig",
    "NumericAttributeConfig",
    "ProbabilisticConfig",
    "StatusCodeConfig",
    "StringAttributeConfig",
    "BooleanAttributeConfig",
    "RateLimitingConfig",
    "BytesLimitingConfig",
    "SpanCountConfig",
    "TraceStateConfig",
    "LEAF_TYPES",
    "STATUS_CODES",
]

STATUS_CODES = {"UNSET": 0, "OK": 1, "ERROR": 2}

# Policy types that take no sub-policies ("shared" policies upstream).
LEAF_TYPES = (
    "always_sample",
    "latency",
    "numeric_attribute",
    "probabilistic",
    "status_code",
    "string_attribute",
    "boolean_attribute",
    "rate_limiting",
    "bytes_limiting",
    "span_count",
    "trace_state",
    "trace_flags",
)


@dataclass
class LatencyConfig:
    threshold_ms: int = 0
    upper_threshold_ms: int = 0


@dataclass
class NumericAttributeConfig:
    key: str = ""
    min_value: int = 0  # 0 means "no lower bound", as upstream
    max_value: int = 0  # 0 means "no upper bound", as upstream
    invert_match: bool = False


@dataclass
class ProbabilisticConfig:
    hash_salt: str = ""  # "" means upstream's "default-hash-seed"
    sampling_percentage: float = 0.0


@dataclass
class StatusCodeConfig:
    status_codes: list[str] = field(default_factory=list)


@dataclass
class StringAttributeConfig:
    key: str = ""
    values: list[str] = field(default_factory=list)
    enabled_regex_matching: bool = False
    cache_max_size: int = 0  # 0 means 128 (upstream's regex-result LRU default)
    invert_match: bool = False


@dataclass
class BooleanAttributeConfig:
    key: str = ""
    value: bool = False
    invert_match: bool = False


@dataclass
class RateLimitingConfig:
    spans_per_second: int = 0
    burst_capacity: int = 0  # 0 means 2 x spans_per_second


@dataclass
class BytesLimitingConfig:
    bytes_per_second: int = 0
    burst_capacity: int = 0  # 0 means 2 x bytes_per_second


@dataclass
class SpanCountConfig:
    min_spans: int = 0
    max_spans: int = 0  # 0 means no maximum


@dataclass
class TraceStateConfig:
    key: str = ""
    values: list[str] = field(default_factory=list)


@dataclass
class SharedPolicyConfig:
    """A leaf policy: `name`, `type` and the block named after the type."""

    name: str = ""
    type: str = ""
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    numeric_attribute: NumericAttributeConfig = field(default_factory=NumericAttributeConfig)
    probabilistic: ProbabilisticConfig = field(default_factory=ProbabilisticConfig)
    status_code: StatusCodeConfig = field(default_factory=StatusCodeConfig)
    string_attribute: StringAttributeConfig = field(default_factory=StringAttributeConfig)
    boolean_attribute: BooleanAttributeConfig = field(default_factory=BooleanAttributeConfig)
    rate_limiting: RateLimitingConfig = field(default_factory=RateLimitingConfig)
    bytes_limiting: BytesLimitingConfig = field(default_factory=BytesLimitingConfig)
    span_count: SpanCountConfig = field(default_factory=SpanCountConfig)
    trace_state: TraceStateConfig = field(default_factory=TraceStateConfig)


@dataclass
class AndConfig:
    and_sub_policy: list[SharedPolicyConfig] = field(default_factory=list)


@dataclass
class DropConfig:
    drop_sub_policy: list[SharedPolicyConfig] = field(default_factory=list)


@dataclass
class NotConfig:
    not_sub_policy: SharedPolicyConfig = field(default_factory=SharedPolicyConfig)


@dataclass
class CompositeSubPolicyConfig(SharedPolicyConfig):
    and_: AndConfig = field(default_factory=AndConfig, metadata={"key": "and"})


@dataclass
class RateAllocationConfig:
    policy: str = ""
    percent: int = 0


@dataclass
class CompositeConfig:
    max_total_spans_per_second: int = 0
    policy_order: list[str] = field(default_factory=list)  # accepted; upstream does not use it either
    composite_sub_policy: list[CompositeSubPolicyConfig] = field(default_factory=list)
    rate_allocation: list[RateAllocationConfig] = field(default_factory=list)


@dataclass
class PolicyConfig(SharedPolicyConfig):
    and_: AndConfig = field(default_factory=AndConfig, metadata={"key": "and"})
    not_: NotConfig = field(default_factory=NotConfig, metadata={"key": "not"})
    drop: DropConfig = field(default_factory=DropConfig)
    composite: CompositeConfig = field(default_factory=CompositeConfig)


@dataclass
class DecisionCacheConfig:
    sampled_cache_size: int = 0
    non_sampled_cache_size: int = 0


@dataclass
class Config:
    policies: list[PolicyConfig] = field(default_factory=list)
    decision_wait: Duration = Duration(30.0)
    num_traces: int = 50000
    expected_new_traces_per_sec: int = 0
    decision_cache: DecisionCacheConfig = field(default_factory=DecisionCacheConfig)
    sample_on_first_match: bool = False
    drop_pending_traces_on_shutdown: bool = False
    maximum_trace_size_bytes: int = 0
    decision_wait_after_root_received: Duration = Duration(0.0)
    block_on_overflow: bool = False
    record_policy: bool = False

    def validate(self) -> list[str]:
        errors: list[str] = []
        if self.decision_wait <= 0:
            errors.append("decision_wait: must be greater than 0")
        if self.num_traces <= 0:
            errors.append("num_traces: must be greater than 0")
        for key in ("expected_new_traces_per_sec", "maximum_trace_size_bytes"):
            if getattr(self, key) < 0:
                errors.append(f"{key}: must not be negative")
        if self.decision_wait_after_root_received < 0:
            errors.append("decision_wait_after_root_received: must not be negative")
        for key in ("sampled_cache_size", "non_sampled_cache_size"):
            if getattr(self.decision_cache, key) < 0:
                errors.append(f"decision_cache::{key}: must not be negative")
        if self.block_on_overflow:
            errors.append(
                "block_on_overflow: true is not supported: it would push back on receivers; raise "
                "num_traces or set maximum_trace_size_bytes instead"
            )
        names: set[str] = set()
        for i, policy in enumerate(self.policies):
            path = f"policies[{i}]"
            if policy.name in names:
                errors.append(f"{path}::name: duplicate policy name {policy.name!r}")
            names.add(policy.name)
            errors.extend(_check_policy(policy, path, top_level=True))
        return errors


# -- validation of one policy (and its sub-policies) -------------------------------------------------
_COMPOUND_TYPES = ("and", "not", "drop", "composite")


def _check_policy(
    p, path: str, *, top_level: bool = False, allowed: tuple[str, ...] = LEAF_TYPES
) -> list[str]:
    errors: list[str] = []
    if not p.name:
        errors.append(f"{path}::name: policy name cannot be empty")
    kinds = LEAF_TYPES + _COMPOUND_TYPES if top_level else allowed
    if p.type not in kinds:
        hint = f"one of {', '.join(kinds)}"
        if p.type == "ottl_condition":
            errors.append(f"{path}::type: ottl_condition policies are not supported; expected {hint}")
        elif not p.type:
            errors.append(f"{path}::type: missing policy type; expected {hint}")
        else:
            errors.append(f"{path}::type: unknown sampling policy type {p.type!r}; expected {hint}")
        return errors
    t = p.type
    if t == "status_code":
        codes = p.status_code.status_codes
        if not codes:
            errors.append(
                f"{path}::status_code::status_codes: expected at least one status code to filter on"
            )
        for c in codes:
            if c not in STATUS_CODES:
                errors.append(
                    f"{path}::status_code::status_codes: unknown status code {c!r}, supported: OK, ERROR, UNSET"
                )
    elif t == "numeric_attribute":
        n = p.numeric_attribute
        if n.min_value == 0 and n.max_value == 0:
            errors.append(f"{path}::numeric_attribute: at least one of min_value or max_value must be set")
        elif n.min_value and n.max_value and n.min_value > n.max_value:
            errors.append(f"{path}::numeric_attribute: min_value must be less than or equal to max_value")
    elif t == "string_attribute" and p.string_attribute.enabled_regex_matching:
        for v in p.string_attribute.values:
            try:
                re.compile(v)
            except re.error as exc:
                errors.append(f"{path}::string_attribute::values: invalid regex {v!r}: {exc}")
    elif t == "latency":
        lat = p.latency
        if lat.upper_threshold_ms and lat.upper_threshold_ms < lat.threshold_ms:
            errors.append(f"{path}::latency: upper_threshold_ms must be greater than threshold_ms")
    elif t == "span_count":
        sc = p.span_count
        if sc.max_spans and sc.max_spans < sc.min_spans:
            errors.append(f"{path}::span_count: max_spans must be greater than or equal to min_spans")
    elif t in ("rate_limiting", "bytes_limiting"):
        lim = getattr(p, t)
        rate = lim.spans_per_second if t == "rate_limiting" else lim.bytes_per_second
        if rate < 0 or lim.burst_capacity < 0:
            errors.append(f"{path}::{t}: rate and burst_capacity must not be negative")
    elif t == "and":
        if not p.and_.and_sub_policy:
            errors.append(f"{path}::and::and_sub_policy: must contain at least one policy")
        for j, sub in enumerate(p.and_.and_sub_policy):
            errors.extend(_check_policy(sub, f"{path}::and::and_sub_policy[{j}]"))
    elif t == "drop":
        if not p.drop.drop_sub_policy:
            errors.append(f"{path}::drop::drop_sub_policy: must contain at least one policy")
        for j, sub in enumerate(p.drop.drop_sub_policy):
            errors.extend(_check_policy(sub, f"{path}::drop::drop_sub_policy[{j}]"))
    elif t == "not":
        errors.extend(_check_policy(p.not_.not_sub_policy, f"{path}::not::not_sub_policy"))
    elif t == "composite":
        c = p.composite
        if not c.composite_sub_policy:
            errors.append(f"{path}::composite::composite_sub_policy: must contain at least one policy")
        sub_names = set()
        for j, sub in enumerate(c.composite_sub_policy):
            sub_names.add(sub.name)
            sub_path = f"{path}::composite::composite_sub_policy[{j}]"
            errors.extend(_check_policy(sub, sub_path, allowed=LEAF_TYPES + ("and",)))
            if sub.type == "and":
                for k, inner in enumerate(sub.and_.and_sub_policy):
                    errors.extend(_check_policy(inner, f"{sub_path}::and::and_sub_policy[{k}]"))
        for j, alloc in enumerate(c.rate_allocation):
            if alloc.policy not in sub_names:
                errors.append(
                    f"{path}::composite::rate_allocation[{j}]::policy: {alloc.policy!r} is not a composite_sub_policy"
                )
    return errors
