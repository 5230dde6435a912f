"""Parsing query-string values at the edge; every failure is a 400 naming the parameter."""

from __future__ import annotations

import re
import shlex
import time
from datetime import datetime

import orjson

from ..store.traceql.ast import Attribute, BoolOp, Comparison, Intrinsic, Literal
from .http import HTTPError, Request

__all__ = [
    "int_arg",
    "seconds_arg",
    "micros_arg",
    "millis_arg",
    "duration_arg",
    "rfc3339_arg",
    "trace_id_arg",
    "parse_logfmt",
    "parse_tag_name",
    "conjunction",
]

_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DUR_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def bad(name: str, value, what: str) -> HTTPError:
    return HTTPError(400, f"invalid {name} {value!r}: {what}")


def int_arg(req: Request, name: str, default: int | None = None, minimum: int = 0) -> int | None:
    raw = req.arg(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(name, raw, "expected an integer") from None
    if value < minimum:
        raise bad(name, raw, f"must be at least {minimum}")
    return value


def _number(req: Request, name: str) -> float | None:
    raw = req.arg(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        raise bad(name, raw, "expected a number") from None


def seconds_arg(req: Request, name: str) -> int | None:
    """Unix seconds → ns (Tempo `start`/`end`)."""
    v = _number(req, name)
    return None if v is None else int(v * 1e9)


def micros_arg(req: Request, name: str) -> int | None:
    """Unix microseconds → ns (Jaeger `start`/`end`)."""
    v = _number(req, name)
    return None if v is None else int(v) * 1000


def millis_arg(req: Request, name: str) -> int | None:
    v = _number(req, name)
    return None if v is None else int(v) * 1_000_000


def duration_ns(text: str) -> int:
    """A Go duration ("1.5s", "200ms", "1h30m") in ns; a bare number is taken as ns."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DUR.match(text, pos)
        if not m:
            raise ValueError("not a duration such as 100ms or 1.5s")
        total += float(m.group(1)) * _DUR_NS[m.group(2)]
        pos = m.end()
    if not text:
        raise ValueError("empty duration")
    return int(total)


def duration_arg(req: Request, name: str) -> int | None:
    raw = req.arg(name)
    if raw in (None, ""):
        return None
    try:
        return duration_ns(raw)
    except ValueError as exc:
        raise bad(name, raw, str(exc)) from None


def rfc3339_arg(req: Request, name: str) -> int | None:
    raw = req.arg(name)
    if raw in (None, ""):
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad(name, raw, "expected an RFC 3339 time such as 2024-01-02T15:04:05Z") from None
    return int(dt.timestamp()) * 10**9 + dt.microsecond * 1000


def trace_id_arg(text: str) -> str:
    """A trace id in hex (up to 32 digits, left-padded as Tempo and Jaeger do) → 32 lowercase."""
    tid = text.strip().lower()
    if not tid or len(tid) > 32 or not re.fullmatch(r"[0-9a-f]+", tid):
        raise HTTPError(400, f"invalid trace id {text!r}: expected up to 32 hexadecimal digits")
    tid = tid.rjust(32, "0")
    if tid == "0" * 32:
        raise HTTPError(400, f"invalid trace id {text!r}: must not be all zeros")
    return tid


def now_ns() -> int:
    return time.time_ns()


def parse_logfmt(text: str, name: str = "tags") -> dict[str, str]:
    """`key=value key2="quoted value"` → dict; a JSON object is accepted too (Jaeger UI)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise bad(name, text, f"not a JSON object ({exc})") from None
        if not isinstance(data, dict):
            raise bad(name, text, "expected a JSON object")
        return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in data.items()}
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise bad(name, text, f"unbalanced quotes ({exc})") from None
    out = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise bad(name, text, f"expected key=value, got {part!r}")
        out[key] = value
    return out


def parse_tag_name(text: str):
    """A Tempo tag name (`resource.service.name`, `span.x`, `.x`, `name`, `status`) → a field."""
    from ..store.traceql.parser import _INTRINSIC_ALIASES

    if text in _INTRINSIC_ALIASES:
        return Intrinsic(_INTRINSIC_ALIASES[text])
    for scope in ("span", "resource"):
        if text.startswith(scope + ".") and len(text) > len(scope) + 1:
            return Attribute(scope, text[len(scope) + 1 :])
    if text.startswith(".") and len(text) > 1:
        return Attribute("", text[1:])
    if not text:
        raise HTTPError(400, "empty tag name")
    return Attribute("", text)


def conjunction(conds: list[Comparison]):
    if not conds:
        return None
    expr = conds[0]
    for c in conds[1:]:
        expr = BoolOp("&&", expr, c)
    return expr


def eq(field, value: str) -> Comparison:
    return Comparison(field, "=", Literal("string", value))
