"""Spans → ClickHouse `RowBinary` rows with the `otel_traces` insert columns (`ddl.INSERT_COLUMNS`).

ClickHouse parses RowBinary natively, so an insert costs the engine little and us only the
encoding.  Two encoders write the same bytes:

- `encode_batch(batch)`: the native `_rowbinary` module walks the raw OTLP bytes of a `SpanBatch`
  (no Python object per span or attribute; resources and scopes converted once each);
- `encode_records(spans)`: pure Python over `SpanRecord`s; `encode_batch` falls back to
  `decode_batch` + this when the module is missing (no C compiler), when
  `COBALT_TRACE_PURE_PYTHON=1`, or for what the native walk leaves to Python (array/kvlist
  attribute values, which become JSON).

RowBinary: strings are a LEB128 length + bytes, `DateTime64(9)`/`UInt64` are 8 bytes little
endian, `Map` is a count + key/value pairs, each `Nested` sub-column an array (count + items);
`LowCardinality(String)` is written as `String`.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence

from ..wire.batch import SpanBatch
from ..wire.errors import WireError
from .decode import decode_batch
from .model import SpanRecord

__all__ = ["NATIVE", "encode_batch", "encode_records"]

_PURE = os.environ.get("COBALT_TRACE_PURE_PYTHON", "").strip().lower() not in ("", "0", "false", "no")

NATIVE = None
if not _PURE:
    try:
        from . import _rowbinary as NATIVE
    except ImportError:  # built without a C compiler: the pure-Python path serves
        NATIVE = None

_U64 = struct.Struct("<Q").pack


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _str(s: str) -> bytes:
    b = s.encode("utf-8", "surrogatepass")
    return _varint(len(b)) + b


def _map(attrs: dict[str, str]) -> bytes:
    return _varint(len(attrs)) + b"".join(_str(k) + _str(v) for k, v in attrs.items())


def _array(items: list[bytes]) -> bytes:
    return _varint(len(items)) + b"".join(items)


def _record(s: SpanRecord, cache: dict) -> bytes:
    # resources repeat across a batch: encode each distinct one once (keyed by identity, since
    # `decode_batch` shares one dict per resource)
    res = cache.get(id(s.resource_attributes))
    if res is None or res[0] is not s.resource_attributes:
        res = cache[id(s.resource_attributes)] = (s.resource_attributes, _map(s.resource_attributes))
    ev, ln = s.events, s.links
    return b"".join(
        (
            _U64(s.timestamp),
            _str(s.trace_id),
            _str(s.span_id),
            _str(s.parent_span_id),
            _str(s.trace_state),
            _str(s.name),
            _str(s.kind),
            _str(s.service),
            res[1],
            _str(s.scope_name),
            _str(s.scope_version),
            _map(s.attributes),
            _U64(max(s.duration, 0)),
            _str(s.status_code),
            _str(s.status_message),
            _array([_U64(e.timestamp) for e in ev]),
            _array([_str(e.name) for e in ev]),
            _array([_map(e.attributes) for e in ev]),
            _array([_str(x.trace_id) for x in ln]),
            _array([_str(x.span_id) for x in ln]),
            _array([_str(x.trace_state) for x in ln]),
            _array([_map(x.attributes) for x in ln]),
        )
    )


def encode_records(spans: Sequence[SpanRecord]) -> bytes:
    """RowBinary rows for `spans`, in order."""
    cache: dict = {}
    return b"".join([_record(s, cache) for s in spans])


def encode_batch(batch: SpanBatch) -> tuple[bytes, int]:
    """(RowBinary rows, span count) for every span of `batch`; malformed data raises `WireError`."""
    if NATIVE is not None:
        try:
            return NATIVE.encode_request(batch.to_bytes())
        except ValueError as exc:
            raise WireError(str(exc)) from None
        except NotImplementedError:
            pass  # JSON-valued attributes and other rarities: the Python path below
    spans = decode_batch(batch)
    return encode_records(spans), len(spans)
