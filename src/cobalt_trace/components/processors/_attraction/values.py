"""OTLP `AnyValue` helpers with the collector's (pdata `pcommon.Value`) semantics: building values
from config, rendering them as strings, hashing and type conversion."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
from decimal import Decimal
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = [
    "any_value",
    "as_string",
    "convert_value",
    "find",
    "format_double",
    "hash_value",
    "CONVERSION_TARGETS",
]

CONVERSION_TARGETS = ("string", "int", "double")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_GO_INT = re.compile(r"[+-]?[0-9]+")
# strconv.ParseFloat: no surrounding blanks, no "_" digit separators (Python's float() allows both)
_GO_FLOAT_REJECT = re.compile(r"^\s|\s$|_")


def any_value(raw: Any) -> AnyValue:
    """A config value (as YAML decoded it) as an `AnyValue`, like pdata's `Value.FromRaw`."""
    out = AnyValue()
    _fill(out, raw)
    return out


def _fill(out: AnyValue, raw: Any) -> None:
    if raw is None:
        return
    if isinstance(raw, bool):
        out.bool_value = raw
    elif isinstance(raw, int):
        if not _INT64_MIN <= raw <= _INT64_MAX:
            raise ValueError(f"integer {raw} does not fit in 64 bits")
        out.int_value = raw
    elif isinstance(raw, float):
        out.double_value = raw
    elif isinstance(raw, str):
        out.string_value = raw
    elif isinstance(raw, (bytes, bytearray)):
        out.bytes_value = bytes(raw)
    elif isinstance(raw, (list, tuple)):
        arr = out.array_value
        arr.SetInParent()
        for item in raw:
            _fill(arr.values.add(), item)
    elif isinstance(raw, dict):
        kvl = out.kvlist_value
        kvl.SetInParent()
        for k, v in raw.items():
            _fill(kvl.values.add(key=str(k)).value, v)
    else:
        raise ValueError(f"unsupported value type {type(raw).__name__}")


def find(attrs, key: str):
    """The first `KeyValue` named `key` in a repeated attribute field, or None."""
    for kv in attrs:
        if kv.key == key:
            return kv
    return None


def format_double(f: float) -> str:
    """pdata's rendering of a double: ES6 number-to-string ("1", "0.5", "1e+21", "1e-7")."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mantissa, _, exp = repr(f).partition("e")
        if not exp:  # repr chose fixed notation; force the exponent form
            mantissa, _, exp = f"{f:e}".partition("e")
            mantissa = mantissa.rstrip("0").rstrip(".")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mantissa}e{sign}{int(exp.lstrip('+-'))}"
    return format_fixed(f)


def format_fixed(f: float) -> str:
    """Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent."""
    text = format(Decimal(repr(f)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _raw(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_raw(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    if kind == "double_value":
        d = v.double_value
        return int(d) if d.is_integer() and abs(d) < 1e21 else d
    return getattr(v, kind)


def as_string(v: AnyValue) -> str:
    """pdata's `Value.AsString()`."""
    kind = v.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return format_double(v.double_value)
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    # maps and slices render as compact JSON with sorted keys, like Go's encoding/json
    return json.dumps(_raw(v), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def hash_value(v: AnyValue) -> None:
    """Replace `v` with the lowercase hex SHA-256 of its value, in place (contrib `sha2Hasher`).

    Strings hash their UTF-8 bytes, bools one byte, ints and doubles 8 little-endian bytes.  Any
    other type — and the empty string — has nothing to hash and becomes the empty string.
    """
    kind = v.WhichOneof("value")
    if kind == "string_value":
        data = v.string_value.encode()
    elif kind == "bool_value":
        data = b"\x01" if v.bool_value else b"\x00"
    elif kind == "int_value":
        data = struct.pack("<q", v.int_value)
    elif kind == "double_value":
        data = struct.pack("<d", v.double_value)
    else:
        data = b""
    v.string_value = hashlib.sha256(data).hexdigest() if data else ""


def convert_value(v: AnyValue, target: str) -> bool:
    """Convert `v` in place to `target` (string/int/double) when possible; False if left as is."""
    kind = v.WhichOneof("value")
    if target == "string":
        if kind != "string_value":
            v.string_value = as_string(v)
        return True
    if target == "int":
        if kind == "int_value":
            return True
        if kind == "double_value":
            d = v.double_value
            if math.isnan(d) or math.isinf(d):
                return False
            v.int_value = max(_INT64_MIN, min(_INT64_MAX, int(d)))
            return True
        if kind == "bool_value":
            v.int_value = 1 if v.bool_value else 0
            return True
        if kind == "string_value":
            s = v.string_value
            if _GO_INT.fullmatch(s) and _INT64_MIN <= int(s) <= _INT64_MAX:
                v.int_value = int(s)
                return True
        return False
    if target == "double":
        if kind == "double_value":
            return True
        if kind == "int_value":
            v.double_value = float(v.int_value)
            return True
        if kind == "bool_value":
            v.double_value = 1.0 if v.bool_value else 0.0
            return True
        if kind == "string_value":
            s = v.string_value
            if s and not _GO_FLOAT_REJECT.search(s):
                try:
                    v.double_value = float(s)
                    return True
                except ValueError:
                    return False
        return False
    return False
