"""TraceQL → ClickHouse SQL that selects candidate traces from `otel_traces`.

The SQL is a sound over-approximation: every trace the query matches is a candidate.  What SQL
cannot express per span (trace-level intrinsics inside a span filter, structural relations) is
widened to TRUE, and `exact` says whether the candidates are already the answer.  The exact
decision is `evaluate.evaluate_trace` over the candidates' spans.

Values are passed as ClickHouse query parameters (`{p0:String}`), never spliced into the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ast import (
    TRACE_LEVEL,
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

__all__ = ["CandidateSQL", "compile_candidates"]

_STATUS_VALUES = {
    "error": ("Error", "STATUS_CODE_ERROR"),
    "ok": ("Ok", "STATUS_CODE_OK"),
    "unset": ("Unset", "STATUS_CODE_UNSET"),
}
_KIND_VALUES = {
    k: (k.capitalize(), f"SPAN_KIND_{k.upper()}")
    for k in ("unspecified", "internal", "server", "client", "producer", "consumer")
}
_SQL_OPS = {"=": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


@dataclass
class CandidateSQL:
    where: str  # span prefilter ("" = none)
    having: str  # per-trace condition over countIf(...)
    params: dict = field(default_factory=dict)
    exact: bool = True


class _Compiler:
    def __init__(self):
        self.params: dict = {}
        self.exact = True

    def param(self, value, ch_type: str) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:{ch_type}}}"

    # -- span predicates: SQL text, or None for "cannot say per span" (TRUE, inexact) --------
    def pred(self, expr) -> str | None:
        if isinstance(expr, Comparison):
            return self.comparison(expr)
        if isinstance(expr, BoolOp):
            left, right = self.pred(expr.left), self.pred(expr.right)
            if expr.op == "&&":
                if left is None or right is None:
                    self.exact = False
                    return left if right is None else right
                return f"({left} AND {right})"
            if left is None or right is None:
                self.exact = False
                return None
            return f"({left} OR {right})"
        if isinstance(expr, Not):
            # negating a widened predicate would narrow it: give up on the whole negation
            was_exact, self.exact = self.exact, True
            inner = self.pred(expr.expr)
            widened = not self.exact
            self.exact = was_exact and not widened
            if inner is None or widened:
                return None
            return f"(NOT {inner})"
        if isinstance(expr, Literal):
            return "1" if expr.value else "0"
        raise ValueError(f"unsupported expression {expr!r}")

    def comparison(self, c: Comparison) -> str | None:
        fld, op, lit = c.field, c.op, c.value
        if isinstance(fld, Intrinsic):
            if fld.name in TRACE_LEVEL:
                self.exact = False
                return None
            if fld.name == "status":
                values = _STATUS_VALUES[lit.value]
                neg = "NOT " if op == "!=" else ""
                return f"{neg}StatusCode IN ({self.param(list(values), 'Array(String)')})"
            if fld.name == "kind":
                values = _KIND_VALUES[lit.value]
                neg = "NOT " if op == "!=" else ""
                return f"{neg}SpanKind IN ({self.param(list(values), 'Array(String)')})"
            if fld.name == "duration":
                return f"Duration {_SQL_OPS[op]} {self.param(int(lit.value), 'Int64')}"
            column = {"name": "SpanName", "statusMessage": "StatusMessage"}[fld.name]
            return self.value_test(column, op, lit)
        if fld.scope == "":
            span = self.attribute("SpanAttributes", fld.name, op, lit)
            res = self.attribute("ResourceAttributes", fld.name, op, lit)
            if lit.kind == "nil" and op == "=":
                return f"({span} AND {res})"
            return f"({span} OR {res})"
        column = "SpanAttributes" if fld.scope == "span" else "ResourceAttributes"
        if column == "ResourceAttributes" and fld.name == "service.name" and lit.kind == "string":
            return self.value_test("ServiceName", op, lit)  # the leading key of the primary index
        return self.attribute(column, fld.name, op, lit)

    def attribute(self, column: str, key: str, op: str, lit: Literal) -> str:
        k = self.param(key, "String")
        has = f"mapContains({column}, {k})"
        if lit.kind == "nil":
            return f"NOT {has}" if op == "=" else has
        return f"({has} AND {self.value_test(f'{column}[{k}]', op, lit)})"

    def value_test(self, expr: str, op: str, lit: Literal) -> str:
        if op in ("=~", "!~"):
            pattern = self.param(f"^(?:{lit.value})$", "String")
            return f"{'NOT ' if op == '!~' else ''}match({expr}, {pattern})"
        if lit.kind in ("int", "float", "duration"):
            return f"toFloat64OrNull({expr}) {_SQL_OPS[op]} {self.param(float(lit.value), 'Float64')}"
        if lit.kind == "bool":
            return f"{expr} {_SQL_OPS[op]} {self.param('true' if lit.value else 'false', 'String')}"
        return f"{expr} {_SQL_OPS[op]} {self.param(str(lit.value), 'String')}"

    # -- spansets → per-trace conditions ------------------------------------------------------
    def trace_condition(self, node, leaves: list) -> str:
        if isinstance(node, Filter):
            pred = self.pred(node.expr) if node.expr is not None else "1"
            leaves.append(pred)
            return "1" if pred in (None, "1") else f"countIf({pred}) > 0"
        if isinstance(node, SpansetOp):
            left = self.trace_condition(node.left, leaves)
            right = self.trace_condition(node.right, leaves)
            if node.op == "||":
                return f"({left} OR {right})"
            if node.op in (">", ">>"):
                self.exact = False
            return f"({left} AND {right})"
        raise ValueError(f"unsupported spanset {node!r}")


def compile_candidates(query: Query) -> CandidateSQL:
    c = _Compiler()
    leaves: list = []
    having = c.trace_condition(query.spansets, leaves)
    for stage in query.stages:
        if isinstance(stage, CountStage):
            if isinstance(query.spansets, Filter) and c.exact:
                pred = leaves[0] or "1"
                having = f"({having} AND countIf({pred}) {_SQL_OPS[stage.op]} {c.param(float(stage.value), 'Float64')})"
            else:
                c.exact = False
    # the prefilter may drop spans no leaf can match; a leaf that matches anything disables it
    widened = any(leaf in (None, "1") for leaf in leaves)
    where = "" if widened else " OR ".join(f"({leaf})" for leaf in leaves)
    return CandidateSQL(where=where, having=having, params=c.params, exact=c.exact)
