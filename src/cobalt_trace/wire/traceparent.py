"""W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` and `tracestate`.

Parsing never raises: a header that is not valid yields None (the caller starts a new trace), as
the specification and OpenTelemetry propagators require.  Versions above 00 are parsed for their
first four fields when the header has the 00 shape or continues with "-"; version ff is invalid.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "TraceParent",
    "format_traceparent",
    "format_tracestate",
    "parse_traceparent",
    "parse_tracestate",
]

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# tracestate keys: simple or multi-tenant ("tenant@system"); values: printable ASCII but , and =
_KEY = re.compile(r"[a-z0-9][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}")
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_MAX_MEMBERS = 32


class TraceParent(NamedTuple):
    trace_id: bytes  # 16 bytes
    span_id: bytes  # 8 bytes (the parent id)
    flags: int  # bit 0: sampled

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 1)


def parse_traceparent(header: str | None) -> TraceParent | None:
    if not header:
        return None
    header = header.strip()
    m = _TRACEPARENT.fullmatch(header)
    if m is None:
        return None
    version, trace_id, span_id, flags, rest = m.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    if version == "00" and rest is not None:  # version 00 has exactly four fields
        return None
    return TraceParent(bytes.fromhex(trace_id), bytes.fromhex(span_id), int(flags, 16))


def format_traceparent(trace_id: bytes, span_id: bytes, flags: int = 1) -> str:
    if len(trace_id) != 16 or len(span_id) != 8:
        raise ValueError("traceparent needs a 16-byte trace id and an 8-byte span id")
    if not any(trace_id) or not any(span_id):
        raise ValueError("traceparent ids must not be all zeros")
    return f"00-{trace_id.hex()}-{span_id.hex()}-{flags & 0xFF:02x}"


def parse_tracestate(header: str | None) -> list[tuple[str, str]]:
    """Members in order; an invalid header yields [] (the spec: discard the whole tracestate).
    Empty members (",,") are allowed; the first occurrence of a duplicated key makes it invalid."""
    if not header:
        return []
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    for part in header.split(","):
        part = part.strip(" \t")
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value) or key in seen:
            return []
        seen.add(key)
        members.append((key, value))
    if len(members) > _MAX_MEMBERS:
        return []
    return members


def format_tracestate(members: list[tuple[str, str]]) -> str:
    """Join members, keeping at most 32 (the spec's limit; the leftmost are the most recent)."""
    return ",".join(f"{k}={v}" for k, v in members[:_MAX_MEMBERS])
