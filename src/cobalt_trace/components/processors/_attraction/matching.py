"""`include` / `exclude` span matching (contrib `filterspan`, `filtermatcher`, `filterset`).

Conditions are split by where their data lives, so callers decode as little as possible:
services and resource attributes per ResourceSpans, libraries per ScopeSpans, and span names,
kinds and attributes per span.  `SpanMatcher.scope_decision` answers for a whole scope when it
can; only an undecided scope needs its spans looked at.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from .config import AttributeMatch, MatchProperties
from .goregex import compile_go_regex
from .values import any_value, as_string, find, format_fixed

__all__ = ["ALL", "NONE", "PER_SPAN", "SPAN_KIND_NAMES", "SpanMatcher", "build_span_matcher"]

SPAN_KIND_NAMES = (
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
)
_STRICT_KINDS = sorted(SPAN_KIND_NAMES[1:])  # upstream does not accept UNSPECIFIED under strict
_NIL_SERVICE = "<nil-service-name>"

ALL, NONE, PER_SPAN = "all", "none", "per_span"


class _StrictSet:
    __slots__ = ("_items",)

    def __init__(self, items: list[str]):
        self._items = frozenset(items)

    def matches(self, text: str) -> bool:
        return text in self._items


class _RegexpSet:
    """Any pattern found in the text (Go `MatchString`: unanchored), results optionally cached."""

    __slots__ = ("_regexes", "_cache", "_cache_max")

    def __init__(self, patterns: list[str], cache: bool, cache_max: int):
        self._regexes = [compile_go_regex(p) for p in dict.fromkeys(patterns)]
        self._cache: dict[str, bool] | None = {} if cache else None
        self._cache_max = cache_max

    def matches(self, text: str) -> bool:
        cache = self._cache
        if cache is not None:
            hit = cache.get(text)
            if hit is not None:
                return hit
        result = any(r.search(text) for r in self._regexes)
        if cache is not None:
            if self._cache_max and len(cache) >= self._cache_max:
                del cache[next(iter(cache))]
            cache[text] = result
        return result


def _regexp_text(v: AnyValue) -> str | None:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return format_fixed(v.double_value)
    return None


class _AttributeMatcher:
    """key exists; or equals a value (strict, same type); or its text matches (regexp)."""

    __slots__ = ("key", "value", "regex")

    def __init__(self, key: str, value: AnyValue | None, regex: Callable[[str], bool] | None):
        self.key, self.value, self.regex = key, value, regex

    def matches(self, attrs) -> bool:
        kv = find(attrs, self.key)
        if kv is None:
            return False
        if self.regex is not None:
            text = _regexp_text(kv.value)
            return text is not None and self.regex(text)
        return self.value is None or kv.value == self.value


def _all_match(matchers: list[_AttributeMatcher], attrs) -> bool:
    if not matchers:
        return True
    if not len(attrs):
        return False
    return all(m.matches(attrs) for m in matchers)


class _Properties:
    """One compiled include or exclude block."""

    def __init__(self, props: MatchProperties, path: str, errors: list[str]):
        mt = props.match_type
        cache = bool(props.regexp and props.regexp.cacheenabled)
        cache_max = props.regexp.cachemaxnumentries if props.regexp else 0

        def err(msg: str) -> None:
            errors.append(f"{path}{msg}")

        for name in ("log_bodies", "log_severity_texts"):
            if getattr(props, name):
                err(f"::{name}: should not be specified for trace spans")
        if props.log_severity_number is not None:
            err("::log_severity_number: should not be specified for trace spans")
        if not (
            props.services
            or props.span_names
            or props.span_kinds
            or props.attributes
            or props.resources
            or props.libraries
        ):
            err(
                ": at least one of services, span_names, span_kinds, attributes, resources or libraries "
                "must be specified"
            )
        if mt not in ("strict", "regexp"):
            what = "missing" if not mt else f"unrecognized value {mt!r}"
            err(f"::match_type: {what}; expected 'strict' or 'regexp'")
            mt = None
        if props.regexp is not None and mt == "strict":
            err("::regexp: only valid with match_type 'regexp'")
        if mt == "strict":
            for kind in props.span_kinds:
                if kind not in _STRICT_KINDS:
                    err(
                        f"::span_kinds: unknown span kind {kind!r}; expected one of {', '.join(_STRICT_KINDS)}"
                    )

        def filter_set(patterns: list[str], where: str) -> Callable[[str], bool] | None:
            if not patterns or mt is None:
                return None
            if mt == "strict":
                return _StrictSet(patterns).matches
            try:
                return _RegexpSet(patterns, cache, cache_max).matches
            except ValueError as exc:
                err(f"::{where}: {exc}")
                return None

        def attribute_matchers(items: list[AttributeMatch], where: str) -> list[_AttributeMatcher]:
            out = []
            for i, item in enumerate(items):
                if not item.key:
                    err(f"::{where}[{i}]::key: can't have an empty key in the list of {where}")
                    continue
                value = regex = None
                if item.value is not None and mt == "regexp":
                    if not isinstance(item.value, str):
                        err(
                            f"::{where}[{i}]::value: match_type=regexp for {item.key!r} only supports strings"
                        )
                        continue
                    regex = filter_set([item.value], f"{where}[{i}]::value")
                elif item.value is not None:
                    try:
                        value = any_value(item.value)
                    except ValueError as exc:
                        err(f"::{where}[{i}]::value: {exc}")
                        continue
                out.append(_AttributeMatcher(item.key, value, regex))
            return out

        self.services = filter_set(props.services, "services")
        self.names = filter_set(props.span_names, "span_names")
        self.kinds = filter_set(props.span_kinds, "span_kinds")
        self.attributes = attribute_matchers(props.attributes, "attributes")
        self.resources = attribute_matchers(props.resources, "resources")
        self.libraries = []
        for i, lib in enumerate(props.libraries):
            name = filter_set([lib.name], f"libraries[{i}]::name")
            version = (
                filter_set([lib.version], f"libraries[{i}]::version") if lib.version is not None else None
            )
            if name is not None:
                self.libraries.append((name, version))
        self.span_level = bool(self.names or self.kinds or self.attributes)

    def match_resource(self, resource) -> bool:
        attrs = resource.attributes
        if self.services is not None:
            kv = find(attrs, "service.name")
            if not self.services(_NIL_SERVICE if kv is None else as_string(kv.value)):
                return False
        return not self.resources or _all_match(self.resources, attrs)

    def match_scope(self, scope) -> bool:
        # every listed library must match (upstream checks them all, not any)
        for name, version in self.libraries:
            if not name(scope.name):
                return False
            if version is not None and not version(scope.version):
                return False
        return True

    def match_span(self, name: str, kind: int, attrs) -> bool:
        if self.names is not None and not self.names(name):
            return False
        if self.kinds is not None:
            kind_name = SPAN_KIND_NAMES[kind] if 0 <= kind < len(SPAN_KIND_NAMES) else ""
            if not self.kinds(kind_name):
                return False
        return _all_match(self.attributes, attrs) if self.attributes else True


class SpanMatcher:
    """Which spans an action list applies to: included (if `include` is given) and not excluded."""

    def __init__(self, include: _Properties | None, exclude: _Properties | None):
        self._include = include
        self._exclude = exclude
        parts = [p for p in (include, exclude) if p is not None]
        self.needs_span_fields = any(p.span_level for p in parts)
        self.needs_span_attributes = any(p.attributes for p in parts)

    @property
    def matches_everything(self) -> bool:
        return self._include is None and self._exclude is None

    def scope_decision(self, resource, scope) -> tuple[str, bool]:
        """(ALL | NONE | PER_SPAN, whether `exclude` still depends on span fields) for one scope.

        `resource` and `scope` are the decoded `Resource` and `InstrumentationScope`.
        """
        inc, exc = self._include, self._exclude
        undecided = False
        if inc is not None:
            if not (inc.match_resource(resource) and inc.match_scope(scope)):
                return NONE, False
            undecided = inc.span_level
        exclude_pending = False
        if exc is not None and exc.match_resource(resource) and exc.match_scope(scope):
            if not exc.span_level:
                return NONE, False
            exclude_pending = undecided = True
        return (PER_SPAN if undecided else ALL), exclude_pending

    def span_applies(self, exclude_pending: bool, name: str, kind: int, attrs) -> bool:
        """For a PER_SPAN scope: does the action list apply to this span?"""
        inc = self._include
        if inc is not None and not inc.match_span(name, kind, attrs):
            return False
        return not (exclude_pending and self._exclude.match_span(name, kind, attrs))


def build_span_matcher(
    include: MatchProperties | None, exclude: MatchProperties | None, path: str = ""
) -> tuple[SpanMatcher, list[str]]:
    errors: list[str] = []
    prefix = f"{path}::" if path else ""
    inc = _Properties(include, f"{prefix}include", errors) if include is not None else None
    exc = _Properties(exclude, f"{prefix}exclude", errors) if exclude is not None else None
    return SpanMatcher(inc, exc), errors
