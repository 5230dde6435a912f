"""Byte-level helpers: assemble an `ExportTraceServiceRequest` from buffered span bytes with one
join, size traces the way the Go collector's ProtoMarshaler does, and upsert a scope attribute.

A group key is `(resource bytes, resource schema_url, scope bytes, scope schema_url)`; spans stay
the serialized `Span` messages they arrived as.
"""

from __future__ import annotations

from itertools import chain

from opentelemetry.proto.common.v1 import common_pb2

__all__ = ["GroupKey", "assemble", "varint", "field_size", "span_field_size", "upsert_scope_attribute"]

GroupKey = tuple[bytes, str, bytes, str]


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _varint_size(n: int) -> int:
    size = 1
    while n > 0x7F:
        n >>= 7
        size += 1
    return size


# tag 0x12 (field 2, length-delimited) + length, for span lengths up to 16 KiB: the common case
_SPAN_PREFIX = [b"\x12" + varint(n) for n in range(1 << 14)]
_SPAN_PREFIX_LEN = [len(p) for p in _SPAN_PREFIX]


def _span_prefix(n: int) -> bytes:
    return _SPAN_PREFIX[n] if n < 16384 else b"\x12" + varint(n)


def field_size(payload_len: int) -> int:
    """Encoded size of a length-delimited field with a one-byte tag."""
    return 1 + _varint_size(payload_len) + payload_len


def span_field_size(span: bytes) -> int:
    n = len(span)
    return (len(_SPAN_PREFIX[n]) if n < 16384 else 1 + _varint_size(n)) + n


def _ld(tag: bytes, payload: bytes, parts: list) -> None:
    parts.append(tag)
    parts.append(varint(len(payload)))
    parts.append(payload)


def _spans_size(spans: list[bytes]) -> int:
    lens = list(map(len, spans))
    if max(lens, default=0) < 16384:
        return sum(lens) + sum(map(_SPAN_PREFIX_LEN.__getitem__, lens))
    return sum(map(span_field_size, spans))


def assemble(groups: dict[GroupKey, list[bytes]]) -> tuple[bytes, int]:
    """Serialized request holding `groups` (one ResourceSpans per resource, one ScopeSpans per
    scope, in first-seen order) and its span count."""
    by_resource: dict[tuple[bytes, str], list[tuple[bytes, str, list[bytes]]]] = {}
    for (resource, rs_schema, scope, ss_schema), spans in groups.items():
        by_resource.setdefault((resource, rs_schema), []).append((scope, ss_schema, spans))
    parts: list[bytes] = []
    count = 0
    for (resource, rs_schema), scopes in by_resource.items():
        rs_len = (field_size(len(resource)) if resource else 0) + (
            field_size(len(rs_schema.encode())) if rs_schema else 0
        )
        scope_lens = []
        for scope, ss_schema, spans in scopes:
            ss_len = (field_size(len(scope)) if scope else 0) + (
                field_size(len(ss_schema.encode())) if ss_schema else 0
            )
            ss_len += _spans_size(spans)
            scope_lens.append(ss_len)
            rs_len += field_size(ss_len)
        parts.append(b"\x0a")
        parts.append(varint(rs_len))
        if resource:
            _ld(b"\x0a", resource, parts)
        for (scope, ss_schema, spans), ss_len in zip(scopes, scope_lens, strict=True):
            parts.append(b"\x12")
            parts.append(varint(ss_len))
            if scope:
                _ld(b"\x0a", scope, parts)
            # prefix, span, prefix, span, ... without a Python-level loop
            parts.extend(chain.from_iterable(zip(map(_span_prefix, map(len, spans)), spans, strict=True)))
            count += len(spans)
            if ss_schema:
                _ld(b"\x1a", ss_schema.encode(), parts)
        if rs_schema:
            _ld(b"\x1a", rs_schema.encode(), parts)
    return b"".join(parts), count


def traces_size(groups: dict[GroupKey, list[bytes]]) -> int:
    """Serialized size of a TracesData holding `groups` (what bytes_limiting charges)."""
    data, _ = assemble(groups)
    return len(data)


def upsert_scope_attribute(scope: bytes, key: str, value: str | bool) -> bytes:
    """`scope` (a serialized InstrumentationScope) with attribute `key` set, as pdata `PutStr`/
    `PutBool` do: replaces the first existing value, else appends."""
    msg = common_pb2.InstrumentationScope.FromString(scope)
    for kv in msg.attributes:
        if kv.key == key:
            target = kv.value
            break
    else:
        target = msg.attributes.add(key=key).value
    if isinstance(value, bool):
        target.bool_value = value
    else:
        target.string_value = value
    return msg.SerializeToString()
