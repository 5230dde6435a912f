"""Turn a YAML mapping into a component's config dataclass, collecting every error with its path.

Conventions for component `config.py` files:
- a `@dataclass` whose field defaults are the upstream defaults (one place);
- field types: `str`, `int`, `float`, `bool`, `Duration` (seconds; written "5s", "200ms", "1m30s"),
  `Literal[...]`, `list[T]`, `dict[str, T]`, nested dataclasses, `T | None`, `Any` (kept raw);
- an optional `validate(self) -> list[str]` for cross-field rules; each message may begin with
  "key: " to name the field it is about.  `decode` calls it on every dataclass it builds, nested
  ones included, once that dataclass's own fields decoded cleanly (so a parent that still calls
  a child's `validate` itself only produces the same lines again, which are dropped);
- a field's YAML key is its name, or `metadata={"key": "yaml-key"}` when the name cannot be.
Unknown keys are errors, as in the OpenTelemetry Collector.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, Literal, Union

__all__ = ["Duration", "decode", "parse_duration", "format_duration", "join_path"]


class Duration(float):
    """Seconds, as a float; written in YAML as a Go duration string."""


_DUR_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> Duration:
    """Go's `time.ParseDuration`: "300ms", "1.5h", "2h45m", "0".  Integers are nanoseconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int):
        return Duration(value * 1e-9)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}")
    text = value.strip()
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return Duration(0.0)
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DUR_PART.match(text, pos)
        if not m:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        if text and re.fullmatch(r"\d+(\.\d*)?", text):
            raise ValueError(f'time: missing unit in duration "{value}"')
        raise ValueError(f'time: invalid duration "{value}"')
    return Duration(sign * total)


def format_duration(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    for unit, size in (("h", 3600), ("m", 60), ("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= size and abs(seconds / size - round(seconds / size)) < 1e-9:
            return f"{round(seconds / size)}{unit}"
    return f"{seconds}s"


def join_path(*parts: str) -> str:
    return "::".join(p for p in parts if p != "")


def yaml_key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def decode(cls: type, raw: Any, path: str = "") -> tuple[Any, list[str]]:
    """Build `cls` from `raw` (a mapping or None).  Returns (instance, errors); on errors the
    instance holds defaults where values were bad."""
    errors = _Errors()
    value = _decode_value(cls, raw, path, errors)
    return value, list(dict.fromkeys(errors))  # nested and parent validate() may say the same


class _Errors(list):
    """Error lines, counting those that came from `validate()` so that a parent still runs its own
    cross-field checks when only a child's rules failed (its fields did decode)."""

    validation = 0


def _decode_errors(errors: _Errors) -> int:
    return len(errors) - errors.validation


def _prefix(path: str, msg: str) -> str:
    key, sep, rest = msg.partition(": ")
    if sep and re.fullmatch(r"[A-Za-z0-9_.:\[\]/\-]+", key):
        return f"{join_path(path, key)}: {rest}"
    return f"{path}: {msg}" if path else msg


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _decode_dataclass(cls: type, raw: Any, path: str, errors: _Errors) -> Any:
    decode_errors_before = _decode_errors(errors)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append(f"{path or '<root>'}: expected a mapping, got {type(raw).__name__} {raw!r}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {yaml_key(f): f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in raw if k not in fields]
    if unknown:
        errors.append(f"{path or '<root>'}: has invalid keys: {', '.join(map(str, unknown))}")
    kwargs = {}
    for key, f in fields.items():
        if key in raw:
            before = _decode_errors(errors)
            val = _decode_value(hints[f.name], raw[key], join_path(path, key), errors)
            if _decode_errors(errors) == before:
                kwargs[f.name] = val
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        errors.append(f"{path or '<root>'}: {exc}")
        return cls()
    if _decode_errors(errors) == decode_errors_before and callable(getattr(obj, "validate", None)):
        for msg in obj.validate() or ():
            errors.append(_prefix(path, msg))
            errors.validation += 1
    return obj


def _decode_value(tp: Any, raw: Any, path: str, errors: _Errors) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return raw
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if raw is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _decode_value(non_none[0], raw, path, errors)
        for a in non_none:
            trial = _Errors()
            val = _decode_value(a, raw, path, trial)
            if _decode_errors(trial) == 0:  # this alternative fits; its own rules may still fail
                errors.extend(trial)
                errors.validation += trial.validation
                return val
        errors.append(f"{path}: value {raw!r} is not one of {', '.join(map(_type_name, non_none))}")
        return None
    if dataclasses.is_dataclass(tp):
        obj = _decode_dataclass(tp, raw, path, errors)
        return obj
    if origin is Literal:
        allowed = typing.get_args(tp)
        if raw not in allowed:
            errors.append(
                f"{path}: unsupported value {raw!r}; expected one of {', '.join(map(repr, allowed))}"
            )
            return allowed[0]
        return raw
    if origin in (list, tuple) or tp in (list, tuple):
        if raw is None:
            return []
        if not isinstance(raw, list):
            errors.append(f"{path}: expected a list, got {type(raw).__name__} {raw!r}")
            return []
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        return [_decode_value(item_tp, item, f"{path}[{i}]", errors) for i, item in enumerate(raw)]
    if origin is dict or tp is dict:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            errors.append(f"{path}: expected a mapping, got {type(raw).__name__} {raw!r}")
            return {}
        args = typing.get_args(tp)
        val_tp = args[1] if len(args) == 2 else Any
        return {str(k): _decode_value(val_tp, v, join_path(path, str(k)), errors) for k, v in raw.items()}
    if tp is Duration:
        try:
            return parse_duration(raw)
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
            return Duration(0)
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        errors.append(f"{path}: expected a boolean, got {raw!r}")
        return False
    if tp is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return int(raw)
        if isinstance(raw, str) and re.fullmatch(r"[+-]?\d+", raw.strip()):
            return int(raw)
        errors.append(f"{path}: expected an integer, got {raw!r}")
        return 0
    if tp is float:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        try:
            return float(raw)
        except (TypeError, ValueError):
            errors.append(f"{path}: expected a number, got {raw!r}")
            return 0.0
    if tp is str:
        if isinstance(raw, str):
            return raw
        original = getattr(raw, "original", None)  # `${env:X}` read as a number: keep its text
        if isinstance(original, str):
            return original
        if raw is None:
            return ""
        if isinstance(raw, (int, float, bool)):
            # YAML turned it into a scalar; the collector reads it back as text.
            return str(raw).lower() if isinstance(raw, bool) else str(raw)
        errors.append(f"{path}: expected a string, got {type(raw).__name__} {raw!r}")
        return ""
    return raw
