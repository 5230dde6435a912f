"""Attribute policies: `string_attribute`, `numeric_attribute`, `boolean_attribute`.

Resource attributes are checked first, then span attributes (contrib
`internal/sampling/{string_tag_filter,numeric_tag_filter,boolean_tag_filter,util}.go`).  Values
are read the way pdata's `Value.Str()/Int()/Bool()` read them: a value of another type reads as
"", 0 or false.  Regexes are not anchored (Go `MatchString`), as upstream.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from .decision import Decision

__all__ = ["StringAttribute", "NumericAttribute", "BooleanAttribute"]

_SAMPLED, _NOT = Decision.SAMPLED, Decision.NOT_SAMPLED
_INV_SAMPLED, _INV_NOT = Decision.INVERT_SAMPLED, Decision.INVERT_NOT_SAMPLED
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_DEFAULT_REGEX_CACHE = 128


def as_str(v) -> str:
    return v.string_value if v.WhichOneof("value") == "string_value" else ""


def as_int(v) -> int:
    return v.int_value if v.WhichOneof("value") == "int_value" else 0


def as_bool(v) -> bool:
    return v.bool_value if v.WhichOneof("value") == "bool_value" else False


def _any_match(groups, resource_match, span_match) -> bool:
    for resource_attrs, span_attrs_list in groups:
        if resource_match(resource_attrs):
            return True
        for attrs in span_attrs_list:
            if span_match(attrs):
                return True
    return False


class _AttributePolicy:
    stateful = False

    def __init__(self, key: str, invert_match: bool):
        self.key = key
        self.invert_match = invert_match

    def _resource_match(self, attrs) -> bool:
        raise NotImplementedError

    def _span_match(self, attrs) -> bool:
        return self._resource_match(attrs)

    def evaluate(self, trace) -> Decision:
        matched = _any_match(trace.attribute_groups(), self._resource_match, self._span_match)
        if self.invert_match:
            # inverted: kept unless some resource or span matches
            return _INV_NOT if matched else _INV_SAMPLED
        return _SAMPLED if matched else _NOT


class StringAttribute(_AttributePolicy):
    def __init__(
        self,
        key: str,
        values: list[str],
        regex: bool = False,
        cache_max_size: int = 0,
        invert_match: bool = False,
    ):
        super().__init__(key, invert_match)
        if regex:
            self._patterns = [re.compile(v) for v in values]
            self._cache: OrderedDict[str, bool] = OrderedDict()
            self._cache_size = cache_max_size if cache_max_size > 0 else _DEFAULT_REGEX_CACHE
            self.matches = self._regex_matches
        else:
            exact = {v for v in values if v}
            self.matches = exact.__contains__

    def _regex_matches(self, text: str) -> bool:
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        hit = any(p.search(text) for p in self._patterns)
        self._cache[text] = hit
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return hit

    def _resource_match(self, attrs) -> bool:
        v = attrs.get(self.key)
        return v is not None and self.matches(as_str(v))

    def _span_match(self, attrs) -> bool:
        v = attrs.get(self.key)
        if v is None:
            return False
        text = as_str(v)
        return text != "" and self.matches(text)  # empty span values are skipped upstream


class NumericAttribute(_AttributePolicy):
    def __init__(self, key: str, min_value: int = 0, max_value: int = 0, invert_match: bool = False):
        super().__init__(key, invert_match)
        # 0 means "not set" upstream (the factory passes nil pointers)
        self.min_value = min_value if min_value != 0 else _I64_MIN
        self.max_value = max_value if max_value != 0 else _I64_MAX

    def _resource_match(self, attrs) -> bool:
        v = attrs.get(self.key)
        return v is not None and self.min_value <= as_int(v) <= self.max_value


class BooleanAttribute(_AttributePolicy):
    def __init__(self, key: str, value: bool, invert_match: bool = False):
        super().__init__(key, invert_match)
        self.value = value

    def _resource_match(self, attrs) -> bool:
        v = attrs.get(self.key)
        return v is not None and as_bool(v) == self.value
