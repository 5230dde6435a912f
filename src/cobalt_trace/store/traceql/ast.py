"""TraceQL syntax tree for the subset we serve.

query      = spansets ("|" stage)*
spansets   = "{" [expr] "}" | spansets ("&&" | "||" | ">>" | ">") spansets | "(" spansets ")"
expr       = comparison | expr "&&" expr | expr "||" expr | "!" expr | "(" expr ")"
comparison = field op value      op: = != > >= < <= =~ !~
stage      = "count()" cmp number | "select(" field {"," field} ")"
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "INTRINSICS",
    "TRACE_LEVEL",
    "Intrinsic",
    "Attribute",
    "Literal",
    "Comparison",
    "BoolOp",
    "Not",
    "Filter",
    "SpansetOp",
    "CountStage",
    "SelectStage",
    "Query",
    "Field",
]

# canonical name → value kind; aliases are resolved by the parser
INTRINSICS = {
    "name": "string",
    "status": "status",
    "kind": "kind",
    "duration": "duration",
    "statusMessage": "string",
    "rootName": "string",
    "rootServiceName": "string",
    "traceDuration": "duration",
}
TRACE_LEVEL = frozenset({"rootName", "rootServiceName", "traceDuration"})


@dataclass(frozen=True, slots=True)
class Intrinsic:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Attribute:
    scope: str  # "span", "resource", or "" for unscoped (span first, then resource)
    name: str

    def __str__(self) -> str:
        return f"{self.scope}.{self.name}"


Field = Intrinsic | Attribute


@dataclass(frozen=True, slots=True)
class Literal:
    """`kind` is string | int | float | duration (value in ns) | bool | status | kind | nil."""

    kind: str
    value: object


@dataclass(frozen=True, slots=True)
class Comparison:
    field: Field
    op: str
    value: Literal


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "&&" | "||"
    left: object
    right: object


@dataclass(frozen=True, slots=True)
class Not:
    expr: object


@dataclass(frozen=True, slots=True)
class Filter:
    """One `{ ... }`; `expr` None means `{}` (every span)."""

    expr: object | None


@dataclass(frozen=True, slots=True)
class SpansetOp:
    op: str  # "&&" | "||" | ">>" | ">"
    left: object
    right: object


@dataclass(frozen=True, slots=True)
class CountStage:
    op: str
    value: float


@dataclass(frozen=True, slots=True)
class SelectStage:
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Query:
    spansets: object
    stages: tuple = field(default=())

    @property
    def selected(self) -> tuple[Field, ...]:
        out: list = []
        for st in self.stages:
            if isinstance(st, SelectStage):
                out.extend(st.fields)
        return tuple(out)
