"""Exact TraceQL evaluation over the spans of one trace.

Every engine answers a search the same way: it narrows the candidates (the SQL engines with
`traceql.sql`, the in-memory double by scanning), loads the candidates' spans, and lets this
module decide.  So the query semantics live in one place.

Semantics follow Tempo: attribute comparisons only match spans that have the attribute (also for
`!=`); `= nil` / `!= nil` test existence; regexes are fully anchored; unscoped `.x` matches a span
or a resource attribute; `{A} && {B}` needs both spansets non-empty and returns both; `A > B` are
the B spans whose parent is in A, `A >> B` those with an ancestor in A.  Attribute values are
strings in our schema, so a number literal compares numerically with values that parse as numbers.
"""

from __future__ import annotations

import functools
import operator
import re

from ..model import SpanMatch, SpanRecord, TraceMatch, normalize_kind, normalize_status
from .ast import (
    Attribute,
    BoolOp,
    Comparison,
    CountStage,
    Filter,
    Intrinsic,
    Literal,
    Not,
    Query,
    SpansetOp,
)

__all__ = ["TraceContext", "evaluate_trace", "field_value"]

_ORDER = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@functools.lru_cache(maxsize=256)
def _anchored(pattern: str) -> re.Pattern:
    return re.compile(f"(?:{pattern})\\Z", re.DOTALL)


class TraceContext:
    """The spans of one trace plus what trace-level intrinsics need."""

    __slots__ = ("spans", "root", "start", "duration", "_by_id")

    def __init__(self, spans: list[SpanRecord]):
        self.spans = sorted(spans, key=lambda s: (s.timestamp, s.span_id))
        roots = [s for s in self.spans if s.is_root]
        self.root = roots[0] if roots else (self.spans[0] if self.spans else None)
        self.start = self.spans[0].timestamp if self.spans else 0
        end = max((s.end for s in self.spans), default=0)
        self.duration = end - self.start if self.spans else 0
        self._by_id = {s.span_id: i for i, s in enumerate(self.spans)}

    def parent_index(self, i: int) -> int | None:
        return self._by_id.get(self.spans[i].parent_span_id)


def field_value(fld, span: SpanRecord, ctx: TraceContext | None) -> object:
    """The value a field has on a span (None when absent); intrinsics keep their native type."""
    if isinstance(fld, Attribute):
        if fld.scope == "span":
            return span.attributes.get(fld.name)
        if fld.scope == "resource":
            return span.resource_attributes.get(fld.name)
        value = span.attributes.get(fld.name)
        return value if value is not None else span.resource_attributes.get(fld.name)
    name = fld.name
    if name == "name":
        return span.name
    if name == "status":
        return normalize_status(span.status_code).lower()
    if name == "kind":
        return normalize_kind(span.kind).lower()
    if name == "duration":
        return span.duration
    if name == "statusMessage":
        return span.status_message
    root = ctx.root if ctx is not None else None
    if name == "rootName":
        return root.name if root else None
    if name == "rootServiceName":
        return root.service if root else None
    if name == "traceDuration":
        return ctx.duration if ctx is not None else None
    raise ValueError(f"unknown intrinsic {name}")


def _compare(actual, op: str, lit: Literal) -> bool:
    if lit.kind == "nil":
        return (actual is None) if op == "=" else (actual is not None)
    if actual is None:
        return False
    if op in ("=~", "!~"):
        hit = _anchored(lit.value).match(str(actual)) is not None
        return hit if op == "=~" else not hit
    if lit.kind in ("int", "float", "duration"):
        if isinstance(actual, str):
            try:
                actual = float(actual)
            except ValueError:
                return False
        return _ORDER[op](actual, lit.value)
    if lit.kind == "bool":
        if op not in ("=", "!="):
            return False
        return _ORDER[op](actual, "true" if lit.value else "false")
    return _ORDER[op](actual, lit.value)


def _matches(expr, span: SpanRecord, ctx: TraceContext) -> bool:
    if isinstance(expr, Comparison):
        fld = expr.field
        if isinstance(fld, Attribute) and fld.scope == "" and expr.value.kind != "nil":
            # unscoped: either the span's or the resource's attribute may satisfy it
            return _compare(span.attributes.get(fld.name), expr.op, expr.value) or _compare(
                span.resource_attributes.get(fld.name), expr.op, expr.value
            )
        return _compare(field_value(fld, span, ctx), expr.op, expr.value)
    if isinstance(expr, BoolOp):
        if expr.op == "&&":
            return _matches(expr.left, span, ctx) and _matches(expr.right, span, ctx)
        return _matches(expr.left, span, ctx) or _matches(expr.right, span, ctx)
    if isinstance(expr, Not):
        return not _matches(expr.expr, span, ctx)
    if isinstance(expr, Literal):
        return bool(expr.value)
    raise ValueError(f"unsupported expression {expr!r}")


def _spanset(node, ctx: TraceContext) -> set[int]:
    if isinstance(node, Filter):
        if node.expr is None:
            return set(range(len(ctx.spans)))
        return {i for i, s in enumerate(ctx.spans) if _matches(node.expr, s, ctx)}
    if isinstance(node, SpansetOp):
        left = _spanset(node.left, ctx)
        if node.op == "||":
            return left | _spanset(node.right, ctx)
        if not left:
            return set()
        right = _spanset(node.right, ctx)
        if node.op == "&&":
            return (left | right) if right else set()
        if node.op == ">":
            return {i for i in right if ctx.parent_index(i) in left}
        if node.op == ">>":
            return {i for i in right if _has_ancestor_in(ctx, i, left)}
    raise ValueError(f"unsupported spanset {node!r}")


def _has_ancestor_in(ctx: TraceContext, i: int, targets: set[int]) -> bool:
    seen = set()
    p = ctx.parent_index(i)
    while p is not None and p not in seen:
        if p in targets:
            return True
        seen.add(p)
        p = ctx.parent_index(p)
    return False


def evaluate_trace(query: Query, spans: list[SpanRecord], spans_per_spanset: int = 3) -> TraceMatch | None:
    """The match for one trace, or None if the query does not select it."""
    if not spans:
        return None
    ctx = TraceContext(spans)
    selected = _spanset(query.spansets, ctx)
    for stage in query.stages:
        if isinstance(stage, CountStage) and not _ORDER[stage.op](len(selected), stage.value):
            selected = set()
    if not selected:
        return None
    fields = query.selected
    matches = []
    for i in sorted(selected)[: max(spans_per_spanset, 0)]:
        s = ctx.spans[i]
        attrs = {}
        for f in fields:
            v = field_value(f, s, ctx)
            if v is not None:
                attrs[str(f) if isinstance(f, Attribute) else f.name] = str(v)
        matches.append(SpanMatch(s.span_id, s.name, s.service, s.timestamp, s.duration, attrs))
    services: dict[str, list[int]] = {}
    for s in ctx.spans:
        entry = services.setdefault(s.service, [0, 0])
        entry[0] += 1
        entry[1] += normalize_status(s.status_code) == "Error"
    root = ctx.root
    return TraceMatch(
        trace_id=root.trace_id,
        root_service=root.service if root.is_root else "",
        root_name=root.name if root.is_root else "",
        start=ctx.start,
        duration=ctx.duration,
        matched=len(selected),
        spans=matches,
        services={k: (v[0], v[1]) for k, v in services.items()},
    )


def uses_trace_level(query: Query) -> bool:
    """Whether any filter reads rootName/rootServiceName/traceDuration."""
    from .ast import TRACE_LEVEL

    def walk(node) -> bool:
        if isinstance(node, Filter):
            return node.expr is not None and walk(node.expr)
        if isinstance(node, (SpansetOp, BoolOp)):
            return walk(node.left) or walk(node.right)
        if isinstance(node, Not):
            return walk(node.expr)
        if isinstance(node, Comparison):
            return isinstance(node.field, Intrinsic) and node.field.name in TRACE_LEVEL
        return False

    return walk(query.spansets)
