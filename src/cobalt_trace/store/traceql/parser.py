"""Hand-written TraceQL lexer and recursive-descent parser; errors carry the 1-based column."""

from __future__ import annotations

import re

from .ast import (
    INTRINSICS,
    Attribute,
    BoolOp,
    Comparison,
    CountStage,
    Filter,
    Intrinsic,
    Literal,
    Not,
    Query,
    SelectStage,
    SpansetOp,
)

__all__ = ["TraceQLError", "parse"]


class TraceQLError(ValueError):
    """A query we cannot run; `pos` is the 0-based offset of the offending token."""

    def __init__(self, message: str, pos: int, text: str = ""):
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        super().__init__(f"parse error at line {line}, col {col}: {message}")
        self.pos = pos
        self.line = line
        self.column = col


_INTRINSIC_ALIASES = {
    "name": "name",
    "span:name": "name",
    "status": "status",
    "span:status": "status",
    "kind": "kind",
    "span:kind": "kind",
    "duration": "duration",
    "span:duration": "duration",
    "statusMessage": "statusMessage",
    "span:statusMessage": "statusMessage",
    "rootName": "rootName",
    "trace:rootName": "rootName",
    "rootServiceName": "rootServiceName",
    "trace:rootService": "rootServiceName",
    "traceDuration": "traceDuration",
    "trace:duration": "traceDuration",
}
_STATUS = {"error", "ok", "unset"}
_KIND = {"unspecified", "internal", "server", "client", "producer", "consumer"}
_DUR_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_COMPARE_OPS = ("=", "!=", ">", ">=", "<", "<=", "=~", "!~")

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<dur>(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+(?![A-Za-z0-9_]))
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
  | (?P<attr>(?:span|resource)?\.(?:"(?:[^"\\]|\\.)*"|[^\s{}()=!<>~&|,"]+))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z_][A-Za-z0-9_]*)?)
  | (?P<op>&&|\|\||>>|>=|<=|!=|=~|!~|[{}()|,=<>!])
    """,
    re.VERBOSE,
)


class _Tok:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind: str, text: str, pos: int):
        self.kind, self.text, self.pos = kind, text, pos

    def __repr__(self) -> str:
        return f"{self.kind}:{self.text!r}@{self.pos}"


def _lex(text: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TraceQLError(f"unexpected character {text[pos]!r}", pos, text)
        kind = m.lastgroup
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(_Tok("eof", "", len(text)))
    return toks


def parse(text: str) -> Query:
    """Parse a TraceQL query of the supported subset, or raise `TraceQLError`."""
    if not isinstance(text, str) or not text.strip():
        raise TraceQLError("empty query", 0, text or "")
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _lex(text)
        self.i = 0

    # -- helpers ------------------------------------------------------------------------------
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _error(self, msg: str, tok: _Tok | None = None):
        tok = tok or self.tok
        shown = "end of query" if tok.kind == "eof" else repr(tok.text)
        raise TraceQLError(f"{msg}, found {shown}", tok.pos, self.text)

    def _take(self, text: str) -> _Tok:
        if self.tok.text != text or self.tok.kind not in ("op", "ident"):
            self._error(f"expected {text!r}")
        tok = self.tok
        self.i += 1
        return tok

    def _accept(self, text: str) -> bool:
        if self.tok.kind in ("op", "ident") and self.tok.text == text:
            self.i += 1
            return True
        return False

    # -- query and spansets ---------------------------------------------------------------------
    def query(self) -> Query:
        spansets = self.spanset_or()
        stages = []
        while self._accept("|"):
            stages.append(self.stage())
        if self.tok.kind != "eof":
            self._error("expected '|', '&&', '||', '>', '>>' or end of query")
        return Query(spansets, tuple(stages))

    def spanset_or(self):
        left = self.spanset_and()
        while self.tok.text == "||" and self.tok.kind == "op":
            self.i += 1
            left = SpansetOp("||", left, self.spanset_and())
        return left

    def spanset_and(self):
        left = self.spanset_struct()
        while self.tok.text == "&&" and self.tok.kind == "op":
            self.i += 1
            left = SpansetOp("&&", left, self.spanset_struct())
        return left

    def spanset_struct(self):
        left = self.spanset_primary()
        while self.tok.kind == "op" and self.tok.text in (">>", ">"):
            op = self.tok.text
            self.i += 1
            left = SpansetOp(op, left, self.spanset_primary())
        return left

    def spanset_primary(self):
        if self._accept("("):
            inner = self.spanset_or()
            self._take(")")
            return inner
        if not self._accept("{"):
            self._error("expected '{' to start a spanset filter")
        if self._accept("}"):
            return Filter(None)
        expr = self.expr_or()
        if not self._accept("}"):
            self._error("expected '}', '&&' or '||'")
        return Filter(expr)

    def stage(self):
        tok = self.tok
        if self._accept("count"):
            self._take("(")
            self._take(")")
            op = self.tok
            if op.kind != "op" or op.text not in _COMPARE_OPS[:6]:
                self._error("expected a comparison after count()")
            self.i += 1
            num = self.tok
            if num.kind != "num":
                self._error("expected a number after count() comparison")
            self.i += 1
            return CountStage(op.text, float(num.text))
        if self._accept("select"):
            self._take("(")
            fields = [self.field()]
            while self._accept(","):
                fields.append(self.field())
            self._take(")")
            return SelectStage(tuple(fields))
        self._error("expected count() or select(...) after '|'", tok)

    # -- field expressions ----------------------------------------------------------------------
    def expr_or(self):
        left = self.expr_and()
        while self._accept("||"):
            left = BoolOp("||", left, self.expr_and())
        return left

    def expr_and(self):
        left = self.expr_unary()
        while self._accept("&&"):
            left = BoolOp("&&", left, self.expr_unary())
        return left

    def expr_unary(self):
        if self._accept("!"):
            return Not(self.expr_unary())
        if self._accept("("):
            inner = self.expr_or()
            self._take(")")
            return inner
        if self.tok.kind == "ident" and self.tok.text in ("true", "false"):
            value = self.tok.text == "true"
            self.i += 1
            return Literal("bool", value)
        return self.comparison()

    def comparison(self) -> Comparison:
        fld = self.field()
        op_tok = self.tok
        if op_tok.kind != "op" or op_tok.text not in _COMPARE_OPS:
            self._error("expected a comparison operator (= != > >= < <= =~ !~)")
        self.i += 1
        lit_tok = self.tok
        lit = self.literal()
        self._check_types(fld, op_tok, lit, lit_tok)
        return Comparison(fld, op_tok.text, lit)

    def field(self):
        tok = self.tok
        if tok.kind == "attr":
            self.i += 1
            scope, _, name = tok.text.partition(".")
            if name.startswith('"'):
                name = _unquote(name)
            if not name:
                self._error("expected an attribute name", tok)
            return Attribute(scope, name)
        if tok.kind == "ident" and tok.text in _INTRINSIC_ALIASES:
            self.i += 1
            return Intrinsic(_INTRINSIC_ALIASES[tok.text])
        self._error("expected an intrinsic (name, status, kind, duration, ...) or an attribute (span.x)")

    def literal(self) -> Literal:
        tok = self.tok
        self.i += 1
        if tok.kind == "str":
            return Literal("string", _unquote(tok.text))
        if tok.kind == "dur":
            total = 0
            for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", tok.text):
                total += float(number) * _DUR_UNITS[unit]
            return Literal("duration", int(total))
        if tok.kind == "num":
            if re.fullmatch(r"-?\d+", tok.text):
                return Literal("int", int(tok.text))
            return Literal("float", float(tok.text))
        if tok.kind == "ident":
            word = tok.text
            if word in ("true", "false"):
                return Literal("bool", word == "true")
            if word == "nil":
                return Literal("nil", None)
            if word in _STATUS:
                return Literal("status", word)
            if word in _KIND:
                return Literal("kind", word)
        self.i -= 1
        self._error("expected a value (string, number, duration, true/false, nil, status or kind)")

    def _check_types(self, fld, op_tok: _Tok, lit: Literal, lit_tok: _Tok) -> None:
        op = op_tok.text
        if op in ("=~", "!~") and lit.kind != "string":
            self._error("regular expressions must be strings", lit_tok)
        if op in ("=~", "!~"):
            try:
                re.compile(lit.value)
            except re.error as exc:
                self._error(f"invalid regular expression ({exc})", lit_tok)
        if lit.kind == "nil" and op not in ("=", "!="):
            self._error("nil can only be compared with = or !=", lit_tok)
        if not isinstance(fld, Intrinsic):
            if lit.kind in ("status", "kind"):
                self._error(f"{lit.value} is only valid for status or kind", lit_tok)
            return
        want = INTRINSICS[fld.name]
        ok = {
            "string": ("string",),
            "status": ("status",),
            "kind": ("kind",),
            "duration": ("duration", "int", "float"),
        }[want]
        if lit.kind not in ok:
            self._error(f"{fld.name} must be compared with a {want}", lit_tok)
        if want in ("status", "kind") and op not in ("=", "!="):
            self._error(f"{fld.name} only supports = and !=", op_tok)


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
