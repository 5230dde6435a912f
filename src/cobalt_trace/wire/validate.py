"""`validate_request`: check the whole wire structure of an `ExportTraceServiceRequest`.

The rules (identical in the native scanner `_native/scan.c` and the pure-Python walker here):

- tags, varints (at most 10 bytes), fixed-width values and lengths stay inside their message;
- a known field arrives with its declared wire type; groups and wire types 6/7 are rejected;
  unknown fields are skipped (newer senders may add fields);
- strings are valid UTF-8 (upb, which every full decode of ours uses, rejects anything else);
- trace ids are 0 or 16 bytes, span ids 0 or 8 — the Go collector's pdata rule (empty = unset);
- messages nest at most 100 levels below the request (upb's decode limit).

Errors name the place: ``resource_spans[0].scope_spans[1].spans[3].trace_id: must be 16 bytes,
got 5 (byte 1234)``.

Without the native module the check runs in two steps: upb parses the request with the real
schema, and if that parse provably saw every byte as a known, well-typed field (no unknown fields
left: the re-encoded size equals the input size) and all ids have valid lengths, the request is
accepted.  Anything else goes to the walker below, which gives the verdict and the message.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ._accel import native
from .errors import WireError

__all__ = [
    "MAX_DEPTH",
    "NATIVE",
    "SCHEMA",
    "validate_request",
    "validate_request_native",
    "validate_request_pure",
]

MAX_DEPTH = 100

MSG, STR, BYTES, ID16, ID8, VARINT, I64, I32 = range(1, 9)
_WIRE_OF = {MSG: 2, STR: 2, BYTES: 2, ID16: 2, ID8: 2, VARINT: 0, I64: 1, I32: 5}
_WIRE_NAMES = ("varint", "fixed64", "length-delimited", "start-group", "end-group", "fixed32", "6", "7")

# message -> {field number: (name, kind, sub-message, repeated)}; mirrors SCHEMA in scan.c
_S = tuple[str, int, "str | None", bool]
SCHEMA: dict[str, dict[int, _S]] = {
    "request": {1: ("resource_spans", MSG, "resource_spans", True)},
    "resource_spans": {
        1: ("resource", MSG, "resource", False),
        2: ("scope_spans", MSG, "scope_spans", True),
        3: ("schema_url", STR, None, False),
    },
    "resource": {
        1: ("attributes", MSG, "key_value", True),
        2: ("dropped_attributes_count", VARINT, None, False),
        3: ("entity_refs", MSG, "entity_ref", True),
    },
    "entity_ref": {
        1: ("schema_url", STR, None, False),
        2: ("type", STR, None, False),
        3: ("id_keys", STR, None, True),
        4: ("description_keys", STR, None, True),
    },
    "scope_spans": {
        1: ("scope", MSG, "scope", False),
        2: ("spans", MSG, "span", True),
        3: ("schema_url", STR, None, False),
    },
    "scope": {
        1: ("name", STR, None, False),
        2: ("version", STR, None, False),
        3: ("attributes", MSG, "key_value", True),
        4: ("dropped_attributes_count", VARINT, None, False),
    },
    "span": {
        1: ("trace_id", ID16, None, False),
        2: ("span_id", ID8, None, False),
        3: ("trace_state", STR, None, False),
        4: ("parent_span_id", ID8, None, False),
        5: ("name", STR, None, False),
        6: ("kind", VARINT, None, False),
        7: ("start_time_unix_nano", I64, None, False),
        8: ("end_time_unix_nano", I64, None, False),
        9: ("attributes", MSG, "key_value", True),
        10: ("dropped_attributes_count", VARINT, None, False),
        11: ("events", MSG, "event", True),
        12: ("dropped_events_count", VARINT, None, False),
        13: ("links", MSG, "link", True),
        14: ("dropped_links_count", VARINT, None, False),
        15: ("status", MSG, "status", False),
        16: ("flags", I32, None, False),
    },
    "event": {
        1: ("time_unix_nano", I64, None, False),
        2: ("name", STR, None, False),
        3: ("attributes", MSG, "key_value", True),
        4: ("dropped_attributes_count", VARINT, None, False),
    },
    "link": {
        1: ("trace_id", ID16, None, False),
        2: ("span_id", ID8, None, False),
        3: ("trace_state", STR, None, False),
        4: ("attributes", MSG, "key_value", True),
        5: ("dropped_attributes_count", VARINT, None, False),
        6: ("flags", I32, None, False),
    },
    "status": {2: ("message", STR, None, False), 3: ("code", VARINT, None, False)},
    "key_value": {
        1: ("key", STR, None, False),
        2: ("value", MSG, "any_value", False),
        3: ("key_strindex", VARINT, None, False),
    },
    "any_value": {
        1: ("string_value", STR, None, False),
        2: ("bool_value", VARINT, None, False),
        3: ("int_value", VARINT, None, False),
        4: ("double_value", I64, None, False),
        5: ("array_value", MSG, "array_value", False),
        6: ("kvlist_value", MSG, "kvlist_value", False),
        7: ("bytes_value", BYTES, None, False),
        8: ("string_value_strindex", VARINT, None, False),
    },
    "array_value": {1: ("values", MSG, "any_value", True)},
    "kvlist_value": {1: ("values", MSG, "key_value", True)},
}


class _Invalid(Exception):
    """Raised inside the walker: (path segments, what, byte offset)."""


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, new position); raises _Invalid("truncated"/"long") like scan.c's read_varint."""
    value = shift = 0
    for _ in range(10):
        if pos >= end:
            raise _Invalid("truncated")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
    raise _Invalid("long")


def _fail(path: list, what: str, at: int):
    return WireError(f"{'.'.join(path) if path else 'request'}: {what} (byte {at})")


def _walk(data: bytes, msg: str, pos: int, end: int, depth: int, path: list) -> int:
    """Validate one message; returns the number of spans inside it."""
    fields = SCHEMA[msg]
    counts: dict[int, int] = {}
    spans = 0
    while pos < end:
        at = pos
        try:
            tag, pos = _varint(data, pos, end)
        except _Invalid as exc:
            what = "truncated tag" if exc.args[0] == "truncated" else "tag varint longer than 10 bytes"
            raise _fail(path, what, at) from None
        number, wire = tag >> 3, tag & 7
        if number == 0 or number > 0x1FFFFFFF:
            raise _fail(path, f"invalid field number {number}", at)
        desc = fields.get(number)
        here = path
        if desc is not None:
            name, kind, sub, repeated = desc
            if repeated:
                index = counts.get(number, 0)
                counts[number] = index + 1
                name = f"{name}[{index}]"
            here = [*path, name]
            if wire != _WIRE_OF[kind]:
                raise _fail(
                    here, f"wrong wire type {_WIRE_NAMES[wire]} (expected {_WIRE_NAMES[_WIRE_OF[kind]]})", at
                )
        else:
            kind = sub = None
        if wire == 0:
            try:
                _, pos = _varint(data, pos, end)
            except _Invalid as exc:
                what = "truncated varint" if exc.args[0] == "truncated" else "varint longer than 10 bytes"
                raise _fail(here, what, pos) from None
        elif wire == 1:
            if end - pos < 8:
                raise _fail(here, "truncated fixed64", pos)
            pos += 8
        elif wire == 5:
            if end - pos < 4:
                raise _fail(here, "truncated fixed32", pos)
            pos += 4
        elif wire == 2:
            try:
                n, pos = _varint(data, pos, end)
            except _Invalid as exc:
                what = (
                    "truncated length" if exc.args[0] == "truncated" else "length varint longer than 10 bytes"
                )
                raise _fail(here, what, pos) from None
            if n > end - pos:
                raise _fail(here, f"length {n} exceeds the {end - pos} bytes left in the message", pos)
            start, pos = pos, pos + n
            if kind == STR:
                try:
                    data[start:pos].decode()
                except UnicodeDecodeError:
                    raise _fail(here, "invalid UTF-8 in string", start) from None
            elif kind == ID16:
                if n not in (0, 16):
                    raise _fail(here, f"must be 16 bytes, got {n}", start)
            elif kind == ID8:
                if n not in (0, 8):
                    raise _fail(here, f"must be 8 bytes, got {n}", start)
            elif kind == MSG:
                if depth + 1 > MAX_DEPTH:
                    raise _fail(here, f"messages nested deeper than {MAX_DEPTH} levels", start)
                if sub == "span":
                    spans += 1
                spans += _walk(data, sub, start, pos, depth + 1, here)
        elif wire in (3, 4):
            raise _fail(here, f"groups (wire type {wire}) are not supported", at)
        else:
            raise _fail(here, f"invalid wire type {wire}", at)
    return spans


def _ids_ok(request) -> int | None:
    """Span count if every id of a parsed request has a valid length, else None."""
    count = 0
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            spans = ss.spans
            count += len(spans)
            for span in spans:
                if (
                    len(span.trace_id) not in (0, 16)
                    or len(span.span_id) not in (0, 8)
                    or len(span.parent_span_id) not in (0, 8)
                ):
                    return None
                for link in span.links:
                    if len(link.trace_id) not in (0, 16) or len(link.span_id) not in (0, 8):
                        return None
    return count


def validate_request_pure(data: bytes) -> int:
    """The pure-Python check: the upb fast accept, else the walker's verdict."""
    try:
        request = ExportTraceServiceRequest.FromString(data)
    except DecodeError:
        request = None
    if request is not None:
        request.DiscardUnknownFields()
        # Re-encoding never grows a message of this schema (no packed fields, no maps), and
        # dropped unknown fields (including known numbers with a wrong wire type) shrink it:
        # equal sizes prove the walker would see only known, well-typed fields.
        if request.ByteSize() == len(data):
            count = _ids_ok(request)
            if count is not None:
                return count
    return _walk(bytes(data), "request", 0, len(data), 0, [])


def _validate_native(data: bytes) -> int:
    try:
        return native.validate_request(data)
    except ValueError as exc:
        raise WireError(str(exc)) from None


validate_request_native = _validate_native if native is not None else None
NATIVE = validate_request_native is not None
# Check a serialized ExportTraceServiceRequest; return its span count or raise WireError.
validate_request = validate_request_native or validate_request_pure
