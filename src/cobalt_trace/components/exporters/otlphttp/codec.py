"""Body encodings and compressions of OTLP/HTTP requests, and reading the server's answers."""

from __future__ import annotations

import email.utils
import json
import time
import zlib

import cramjam
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

__all__ = ["compress", "parse_retry_after", "partial_success", "error_message"]


def compress(data: bytes, codec: str, level: int = 0) -> bytes:
    if codec == "gzip":
        c = zlib.compressobj(level or zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()
    if codec in ("zlib", "deflate"):  # HTTP "deflate" is the zlib format (RFC 9110 §8.4.1.2)
        return zlib.compress(data, level or zlib.Z_DEFAULT_COMPRESSION)
    if codec == "zstd":
        return bytes(cramjam.zstd.compress(data, level or None))
    if codec == "snappy":
        return bytes(cramjam.snappy.compress_raw(data))
    if codec == "lz4":
        return bytes(cramjam.lz4.compress(data, level or None))
    return data


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def partial_success(body: bytes, content_type: str) -> tuple[int, str]:
    """(rejected_spans, error_message) of a 2xx response; (0, "") when there is none."""
    if not body:
        return 0, ""
    if "json" in content_type:
        try:
            ps = json.loads(body).get("partialSuccess") or {}
            return int(ps.get("rejectedSpans") or 0), str(ps.get("errorMessage") or "")
        except (ValueError, AttributeError, TypeError):
            return 0, ""
    try:
        resp = trace_service_pb2.ExportTraceServiceResponse.FromString(body)
    except DecodeError:
        return 0, ""
    return resp.partial_success.rejected_spans, resp.partial_success.error_message


def error_message(body: bytes, content_type: str) -> str:
    """The server's explanation of a failed request: a `google.rpc.Status` message if there is one."""
    if not body:
        return ""
    if "protobuf" in content_type:
        try:
            return status_pb2.Status.FromString(body).message
        except DecodeError:
            pass
    if "json" in content_type:
        try:
            return str(json.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            pass
    return body[:256].decode("utf-8", "replace").strip()
