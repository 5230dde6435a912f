"""OTLP/JSON for traces (OTLP specification, "JSON Protobuf Encoding").

Where OTLP/JSON differs from protobuf's canonical JSON mapping: trace and span ids are hex (any
case on input, lowercase on output) instead of base64, enums are integers (names accepted on
input), and unknown fields are ignored.  As in protobuf JSON, keys are lowerCamelCase (snake_case
accepted on input), 64-bit integers are written as decimal strings and read from strings or
numbers, bytes are base64, `null` means "not set".

Decoding writes protobuf bytes directly (fields in number order, defaults omitted — the same
bytes upb's serializer produces), so no message object is built; errors name the JSON path, e.g.
``resourceSpans[0].scopeSpans[0].spans[2].traceId: invalid hex``.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status, TracesData

from .errors import WireError

try:
    import orjson

    def _loads(data):
        return orjson.loads(data)

    def _dumps(doc) -> bytes:
        return orjson.dumps(doc)

    _JSONDecodeError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - orjson is a dependency, json is the safety net
    import json

    def _loads(data):
        return json.loads(data)

    def _dumps(doc) -> bytes:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    _JSONDecodeError = ValueError

__all__ = ["message_from_json", "message_to_json", "traces_from_json", "traces_to_json"]

# ---- JSON → protobuf bytes ------------------------------------------------------------------


def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes([i]) for i in range(0x80)]
_U32, _U64, _I64 = (1 << 32) - 1, (1 << 64) - 1, 1 << 63
_fixed32, _fixed64, _double = struct.Struct("<I").pack, struct.Struct("<Q").pack, struct.Struct("<d").pack


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _type_name(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


class _Bad(Exception):
    """A value that does not fit its field; `_encode` adds the JSON path."""


def _integer(value, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise _Bad("expected an integer, got boolean")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise _Bad(f"expected an integer, got {value!r}")
        n = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            n = int(text)
        except ValueError:
            try:  # protobuf JSON also accepts exponent forms such as "1e9" when integral
                f = float(text)
            except ValueError:
                raise _Bad(f"invalid integer {value!r}") from None
            if not math.isfinite(f) or not f.is_integer():
                raise _Bad(f"invalid integer {value!r}") from None
            n = int(f)
    else:
        raise _Bad(f"expected an integer, got {_type_name(value)}")
    if not lo <= n <= hi:
        raise _Bad(f"{n} is out of range [{lo}, {hi}]")
    return n


def _uint32(v):
    return _integer(v, 0, _U32)


def _fixed64_value(v):
    return _integer(v, 0, _U64)


def _int64(v):
    return _integer(v, -_I64, _I64 - 1)


def _int32(v):
    return _integer(v, -(1 << 31), (1 << 31) - 1)


def _string(value) -> bytes:
    if not isinstance(value, str):
        raise _Bad(f"expected a string, got {_type_name(value)}")
    try:
        return value.encode()
    except UnicodeEncodeError:
        raise _Bad("string is not valid Unicode (lone surrogate)") from None


def _bool(value) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_type_name(value)}")
    return value


_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _number(value) -> float:
    if isinstance(value, bool):
        raise _Bad("expected a number, got boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value in _SPECIAL_DOUBLES:
            return _SPECIAL_DOUBLES[value]
        try:
            return float(value)
        except ValueError:
            raise _Bad(f"invalid number {value!r}") from None
    raise _Bad(f"expected a number, got {_type_name(value)}")


def _bytes(value) -> bytes:
    if not isinstance(value, str):
        raise _Bad(f"expected a base64 string, got {_type_name(value)}")
    text = value.replace("-", "+").replace("_", "/")  # protobuf JSON accepts URL-safe base64
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Bad("invalid base64") from None


def _hex_id(size: int):
    def parse(value) -> bytes:
        if not isinstance(value, str):
            raise _Bad(f"expected a hex string, got {_type_name(value)}")
        if len(value) != 2 * size:
            if value == "":
                return b""
            raise _Bad(f"must be {2 * size} hex digits, got {len(value)}")
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) != size:  # also catches the whitespace bytes.fromhex would skip
            raise _Bad("invalid hex")
        return raw

    return parse


def _enum(names: dict[str, int]):
    def parse(value) -> int:
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            try:
                return names[value]
            except KeyError:
                raise _Bad(f"unknown enum value {value!r}") from None
        return _integer(value, -(1 << 31), (1 << 31) - 1)

    return parse


# Field kinds: how a JSON value becomes the bytes after the tag.
#   ("len", parse) → parse(value) returns bytes, written length-prefixed (omitted if empty)
#   ("varint", parse) / ("fixed64", parse) / ("fixed32", parse) / ("double", parse)
#   ("msg", name) → a message; ("rep", name) → repeated message; ("reps", parse) → repeated string
#   oneof members of AnyValue are written even when they hold the default value.


def _message(name: str, fields: list[tuple[int, str, str, object]]) -> None:
    spec = []
    keys: dict[str, int] = {}
    for i, (number, pname, kind, arg) in enumerate(fields):
        wire = {"varint": 0, "one_varint": 0, "fixed64": 1, "one_double": 1, "fixed32": 5}.get(kind, 2)
        spec.append((number, _varint(number << 3 | wire), _camel(pname), kind, arg))
        keys[pname] = keys[_camel(pname)] = i
    _MESSAGES[name] = (spec, keys)


_MESSAGES: dict[str, tuple[list, dict[str, int]]] = {}
_message("request", [(1, "resource_spans", "rep", "resource_spans")])
_message(
    "resource_spans",
    [
        (1, "resource", "msg", "resource"),
        (2, "scope_spans", "rep", "scope_spans"),
        (3, "schema_url", "len", _string),
    ],
)
_message(
    "resource",
    [
        (1, "attributes", "rep", "key_value"),
        (2, "dropped_attributes_count", "varint", _uint32),
        (3, "entity_refs", "rep", "entity_ref"),
    ],
)
_message(
    "entity_ref",
    [
        (1, "schema_url", "len", _string),
        (2, "type", "len", _string),
        (3, "id_keys", "reps", _string),
        (4, "description_keys", "reps", _string),
    ],
)
_message(
    "scope_spans",
    [(1, "scope", "msg", "scope"), (2, "spans", "rep", "span"), (3, "schema_url", "len", _string)],
)
_message(
    "scope",
    [
        (1, "name", "len", _string),
        (2, "version", "len", _string),
        (3, "attributes", "rep", "key_value"),
        (4, "dropped_attributes_count", "varint", _uint32),
    ],
)
_message(
    "span",
    [
        (1, "trace_id", "len", _hex_id(16)),
        (2, "span_id", "len", _hex_id(8)),
        (3, "trace_state", "len", _string),
        (4, "parent_span_id", "len", _hex_id(8)),
        (5, "name", "len", _string),
        (6, "kind", "varint", _enum(dict(Span.SpanKind.items()))),
        (7, "start_time_unix_nano", "fixed64", _fixed64_value),
        (8, "end_time_unix_nano", "fixed64", _fixed64_value),
        (9, "attributes", "rep", "key_value"),
        (10, "dropped_attributes_count", "varint", _uint32),
        (11, "events", "rep", "event"),
        (12, "dropped_events_count", "varint", _uint32),
        (13, "links", "rep", "link"),
        (14, "dropped_links_count", "varint", _uint32),
        (15, "status", "msg", "status"),
        (16, "flags", "fixed32", _uint32),
    ],
)
_message(
    "event",
    [
        (1, "time_unix_nano", "fixed64", _fixed64_value),
        (2, "name", "len", _string),
        (3, "attributes", "rep", "key_value"),
        (4, "dropped_attributes_count", "varint", _uint32),
    ],
)
_message(
    "link",
    [
        (1, "trace_id", "len", _hex_id(16)),
        (2, "span_id", "len", _hex_id(8)),
        (3, "trace_state", "len", _string),
        (4, "attributes", "rep", "key_value"),
        (5, "dropped_attributes_count", "varint", _uint32),
        (6, "flags", "fixed32", _uint32),
    ],
)
_message(
    "status",
    [(2, "message", "len", _string), (3, "code", "varint", _enum(dict(Status.StatusCode.items())))],
)
_message(
    "key_value",
    [
        (1, "key", "len", _string),
        (2, "value", "msg", "any_value"),
        (3, "key_strindex", "varint", _int32),
    ],
)
_message(
    "any_value",
    [
        (1, "string_value", "one_len", _string),
        (2, "bool_value", "one_varint", _bool),
        (3, "int_value", "one_varint", _int64),
        (4, "double_value", "one_double", _number),
        (5, "array_value", "msg", "array_value"),
        (6, "kvlist_value", "msg", "kvlist_value"),
        (7, "bytes_value", "one_len", _bytes),
        (8, "string_value_strindex", "one_varint", _int32),
    ],
)
_message("array_value", [(1, "values", "rep", "any_value")])
_message("kvlist_value", [(1, "values", "rep", "key_value")])

_MAX_NESTING = 64  # attribute values nest; bound the recursion on hostile input


def _encode(name: str, obj, path: str, depth: int = 0) -> bytes:
    if not isinstance(obj, dict):
        raise WireError(f"{path or 'request'}: expected an object, got {_type_name(obj)}")
    if depth > _MAX_NESTING:
        raise WireError(f"{path}: nested deeper than {_MAX_NESTING} levels")
    spec, keys = _MESSAGES[name]
    present = []
    for key, value in obj.items():
        i = keys.get(key)
        if i is not None and value is not None:  # unknown keys ignored; null means unset
            present.append((i, value))
    present.sort(key=_first)  # fields in number order, as protobuf serializers write them
    out = bytearray()
    for i, value in present:
        number, tag, jname, kind, arg = spec[i]
        try:
            if kind == "len" or kind == "one_len":
                raw = arg(value)
                if raw or kind == "one_len":
                    out += tag
                    out += _varint(len(raw))
                    out += raw
            elif kind == "varint" or kind == "one_varint":
                n = int(arg(value))
                if n or kind == "one_varint":
                    out += tag
                    out += _varint(n)
            elif kind == "fixed64":
                n = arg(value)
                if n:
                    out += tag
                    out += _fixed64(n)
            elif kind == "fixed32":
                n = arg(value)
                if n:
                    out += tag
                    out += _fixed32(n)
            elif kind == "one_double":
                out += tag
                out += _double(arg(value))
            elif kind == "msg":
                raw = _encode(arg, value, f"{path}.{jname}" if path else jname, depth + 1)
                out += tag
                out += _varint(len(raw))
                out += raw
            else:  # "rep" (messages) or "reps" (strings)
                if not isinstance(value, list):
                    raise _Bad(f"expected an array, got {_type_name(value)}")
                for j, item in enumerate(value):
                    if kind == "rep":
                        where = f"{path}.{jname}[{j}]" if path else f"{jname}[{j}]"
                        raw = _encode(arg, {} if item is None else item, where, depth + 1)
                    else:
                        try:
                            raw = arg(item)
                        except _Bad as exc:
                            raise _Bad(f"[{j}]", *exc.args) from None
                    out += tag
                    out += _varint(len(raw))
                    out += raw
        except _Bad as exc:
            where = f"{path}.{jname}" if path else jname
            if len(exc.args) == 2:  # an item of a repeated string field
                where, what = where + exc.args[0], exc.args[1]
            else:
                what = exc.args[0]
            raise WireError(f"{where}: {what}") from None
    return bytes(out)


def _first(item):
    return item[0]


def traces_from_json(data: bytes | str) -> bytes:
    """OTLP/JSON `ExportTraceServiceRequest` (or `TracesData`, same shape) → protobuf bytes."""
    try:
        doc = _loads(data)
    except (_JSONDecodeError, ValueError, TypeError) as exc:
        raise WireError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise WireError(f"invalid OTLP/JSON: the top level must be an object, got {_type_name(doc)}")
    return _encode("request", doc, "")


# ---- protobuf bytes → JSON --------------------------------------------------------------------


def _double_json(x: float):
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _any_json(v) -> dict:
    which = v.WhichOneof("value")
    if which is None:
        return {}
    if which == "string_value":
        return {"stringValue": v.string_value}
    if which == "int_value":
        return {"intValue": str(v.int_value)}
    if which == "bool_value":
        return {"boolValue": v.bool_value}
    if which == "double_value":
        return {"doubleValue": _double_json(v.double_value)}
    if which == "array_value":
        return {"arrayValue": {"values": [_any_json(x) for x in v.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": _attrs_json(v.kvlist_value.values)}}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(v.bytes_value).decode()}
    return {"stringValueStrindex": v.string_value_strindex}


def _attrs_json(attrs) -> list:
    out = []
    for kv in attrs:
        d: dict = {"key": kv.key}
        if kv.HasField("value"):
            d["value"] = _any_json(kv.value)
        if kv.key_strindex:
            d["keyStrindex"] = kv.key_strindex
        out.append(d)
    return out


def _with_attrs(d: dict, msg) -> dict:
    if msg.attributes:
        d["attributes"] = _attrs_json(msg.attributes)
    if msg.dropped_attributes_count:
        d["droppedAttributesCount"] = msg.dropped_attributes_count
    return d


def _span_json(s) -> dict:
    d: dict = {}
    if s.trace_id:
        d["traceId"] = s.trace_id.hex()
    if s.span_id:
        d["spanId"] = s.span_id.hex()
    if s.trace_state:
        d["traceState"] = s.trace_state
    if s.parent_span_id:
        d["parentSpanId"] = s.parent_span_id.hex()
    if s.flags:
        d["flags"] = s.flags
    d["name"] = s.name
    if s.kind:
        d["kind"] = s.kind
    if s.start_time_unix_nano:
        d["startTimeUnixNano"] = str(s.start_time_unix_nano)
    if s.end_time_unix_nano:
        d["endTimeUnixNano"] = str(s.end_time_unix_nano)
    _with_attrs(d, s)
    if s.events:
        events = d["events"] = []
        for e in s.events:
            ed: dict = {}
            if e.time_unix_nano:
                ed["timeUnixNano"] = str(e.time_unix_nano)
            if e.name:
                ed["name"] = e.name
            events.append(_with_attrs(ed, e))
    if s.dropped_events_count:
        d["droppedEventsCount"] = s.dropped_events_count
    if s.links:
        links = d["links"] = []
        for link in s.links:
            ld: dict = {}
            if link.trace_id:
                ld["traceId"] = link.trace_id.hex()
            if link.span_id:
                ld["spanId"] = link.span_id.hex()
            if link.trace_state:
                ld["traceState"] = link.trace_state
            _with_attrs(ld, link)
            if link.flags:
                ld["flags"] = link.flags
            links.append(ld)
    if s.dropped_links_count:
        d["droppedLinksCount"] = s.dropped_links_count
    if s.HasField("status"):
        st: dict = {}
        if s.status.message:
            st["message"] = s.status.message
        if s.status.code:
            st["code"] = s.status.code
        d["status"] = st
    return d


def _resource_json(r) -> dict:
    d = _with_attrs({}, r)
    if r.entity_refs:
        d["entityRefs"] = [json_format.MessageToDict(e) for e in r.entity_refs]
    return d


def _scope_json(sc) -> dict:
    d: dict = {}
    if sc.name:
        d["name"] = sc.name
    if sc.version:
        d["version"] = sc.version
    return _with_attrs(d, sc)


def _request_json(req) -> dict:
    out = []
    for rs in req.resource_spans:
        rd: dict = {}
        if rs.HasField("resource"):
            rd["resource"] = _resource_json(rs.resource)
        scopes = rd["scopeSpans"] = []
        for ss in rs.scope_spans:
            sd: dict = {}
            if ss.HasField("scope"):
                sd["scope"] = _scope_json(ss.scope)
            sd["spans"] = [_span_json(s) for s in ss.spans]
            if ss.schema_url:
                sd["schemaUrl"] = ss.schema_url
            scopes.append(sd)
        if rs.schema_url:
            rd["schemaUrl"] = rs.schema_url
        out.append(rd)
    return {"resourceSpans": out}


def traces_to_json(data) -> bytes:
    """Serialized `ExportTraceServiceRequest` (bytes, or anything with `to_bytes()` such as a
    `SpanBatch`) → OTLP/JSON bytes."""
    if hasattr(data, "to_bytes"):
        data = data.to_bytes()
    try:
        req = ExportTraceServiceRequest.FromString(bytes(data))
    except DecodeError as exc:
        raise WireError(f"not an OTLP ExportTraceServiceRequest: {exc}") from None
    return _dumps(_request_json(req))


# ---- small messages -------------------------------------------------------------------------


def message_to_json(msg: Message) -> bytes:
    """A message in OTLP/JSON: trace requests through `traces_to_json`, anything small (responses,
    `google.rpc.Status` with details) through protobuf's JSON mapping with integer enums."""
    if isinstance(msg, (ExportTraceServiceRequest, TracesData)):
        return traces_to_json(msg.SerializeToString())
    _register_rpc_details()
    return _dumps(json_format.MessageToDict(msg, use_integers_for_enums=True))


def message_from_json(cls, data: bytes | str) -> Message:
    """Parse `data` into a new `cls`; unknown fields ignored; `WireError` when it does not fit."""
    if cls in (ExportTraceServiceRequest, TracesData):
        return cls.FromString(traces_from_json(data))
    try:
        doc = _loads(data)
    except (_JSONDecodeError, ValueError, TypeError) as exc:
        raise WireError(f"invalid JSON: {exc}") from None
    _register_rpc_details()
    msg = cls()
    try:
        json_format.ParseDict(doc, msg, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise WireError(f"invalid JSON for {cls.DESCRIPTOR.full_name}: {exc}") from None
    return msg


def _register_rpc_details() -> None:
    """google.rpc.Status details are `Any`; their types must be in the default pool."""
    try:
        from google.rpc import error_details_pb2  # noqa: F401
    except ImportError:  # pragma: no cover - googleapis-common-protos is a dependency
        pass
