"""OTLP/JSON for traces (OTLP specification, "JSON Protobuf Encoding").

Differences from protobuf's canonical JSON mapping, handled here: trace and span ids are hex
(not base64), enums are integers, and unknown fields are ignored.  64-bit integers are written as
decimal strings and read from strings or numbers, as protobuf JSON does.
"""

from __future__ import annotations

import base64
import binascii
import json

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .errors import WireError

__all__ = ["traces_from_json", "traces_to_json", "message_to_json", "message_from_json"]

_ID_FIELDS = {
    "traceId": 16,
    "spanId": 8,
    "parentSpanId": 8,
    "trace_id": 16,
    "span_id": 8,
    "parent_span_id": 8,
}


def _hex_to_b64(value, path: str, size: int) -> str:
    if not isinstance(value, str):
        raise WireError(f"{path}: expected a hex string, got {type(value).__name__}")
    if value == "":
        return ""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise WireError(f"{path}: invalid hex {value!r}") from None
    if len(raw) != size:
        raise WireError(f"{path}: must be {size} bytes ({2 * size} hex digits), got {len(raw)}")
    return base64.b64encode(raw).decode()


def _ids_hex_to_b64(node, path: str) -> None:
    """Rewrite id fields of spans and links in place, from hex to protobuf-JSON base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            size = _ID_FIELDS.get(key)
            if size is not None and not isinstance(value, (dict, list)):
                node[key] = _hex_to_b64(value, sub, size)
            else:
                _ids_hex_to_b64(value, sub)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _ids_hex_to_b64(item, f"{path}[{i}]")


def _ids_b64_to_hex(node) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _ids_b64_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_b64_to_hex(item)


def _load(data: bytes | str):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"invalid JSON: {exc}") from None


def traces_from_json(data: bytes | str) -> bytes:
    """OTLP/JSON `ExportTraceServiceRequest` (or `TracesData`) → serialized protobuf bytes."""
    doc = _load(data)
    if not isinstance(doc, dict):
        raise WireError("invalid OTLP/JSON: the top level must be an object")
    _ids_hex_to_b64(doc, "")
    msg = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(doc, msg, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, DecodeError, TypeError, ValueError) as exc:
        raise WireError(f"invalid OTLP/JSON: {exc}") from None
    return msg.SerializeToString()


def traces_to_json(data) -> bytes:
    """Serialized `ExportTraceServiceRequest` (bytes or a `SpanBatch`) → OTLP/JSON bytes."""
    if hasattr(data, "to_bytes"):
        data = data.to_bytes()
    msg = ExportTraceServiceRequest.FromString(bytes(data))
    doc = json_format.MessageToDict(msg, use_integers_for_enums=True)
    _ids_b64_to_hex(doc)
    return json.dumps(doc, separators=(",", ":")).encode()


def message_to_json(msg: Message) -> bytes:
    """Any small message (responses, `google.rpc.Status`) in protobuf JSON."""
    return json.dumps(
        json_format.MessageToDict(msg, use_integers_for_enums=True), separators=(",", ":")
    ).encode()


def message_from_json(cls, data: bytes | str) -> Message:
    msg = cls()
    try:
        json_format.ParseDict(_load(data), msg, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise WireError(f"invalid JSON for {cls.__name__}: {exc}") from None
    return msg
