"""Request bodies by `Content-Encoding`, decompressed with a ceiling on the output size.

The ceiling is `max_request_body_size` for the decompressed body too, so a small compressed
request cannot expand into gigabytes (upstream confighttp fixed the same hole).
"""

from __future__ import annotations

import zlib

import cramjam

__all__ = ["BodyTooLarge", "DecodingError", "decompress", "ENCODINGS"]

_SNAPPY_STREAM_HEADER = b"\xff\x06\x00\x00sNaPpY"
_OVERFLOW = "failed to write whole buffer"  # what cramjam says when the output buffer is full


class BodyTooLarge(Exception):
    """The body (or what it decompresses to) exceeds the limit."""


class DecodingError(ValueError):
    """The body is not valid data for its Content-Encoding."""


def _zlib(data: bytes, limit: int, wbits: int, name: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise DecodingError(f"invalid {name} body: {exc}") from None
    if len(out) > limit:
        raise BodyTooLarge
    if not inflater.eof:
        raise DecodingError(f"invalid {name} body: unexpected end of data")
    return out


def _gzip(data: bytes, limit: int) -> bytes:
    return _zlib(data, limit, 16 + zlib.MAX_WBITS, "gzip")


def _deflate(data: bytes, limit: int) -> bytes:
    # HTTP "deflate" means the zlib format, but some clients send raw deflate; accept both.
    if len(data) >= 2 and (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0:
        return _zlib(data, limit, zlib.MAX_WBITS, "deflate")
    return _zlib(data, limit, -zlib.MAX_WBITS, "deflate")


def _bounded(module, name: str, data: bytes, limit: int) -> bytes:
    """cramjam decompression into a fixed buffer: a guess first, the full limit if needed."""
    sizes = [min(limit + 1, len(data) * 16 + 65536)]
    if sizes[0] <= limit:
        sizes.append(limit + 1)
    for size in sizes:
        buf = bytearray(size)
        try:
            n = module.decompress_into(data, buf)
        except cramjam.DecompressionError as exc:
            if _OVERFLOW in str(exc):
                continue
            raise DecodingError(f"invalid {name} body: {exc}") from None
        if n > limit:
            raise BodyTooLarge
        return bytes(memoryview(buf)[:n])
    raise BodyTooLarge


def _snappy(data: bytes, limit: int) -> bytes:
    # Like upstream: the framed format if it starts with the stream header, else a raw block.
    if data.startswith(_SNAPPY_STREAM_HEADER):
        return _bounded(cramjam.snappy, "snappy", data, limit)
    try:
        size = cramjam.snappy.decompress_raw_len(data)
        if size > limit:
            raise BodyTooLarge
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as exc:
        raise DecodingError(f"invalid snappy body: {exc}") from None


ENCODINGS = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "zlib": _deflate,
    "deflate": _deflate,
    "zstd": lambda data, limit: _bounded(cramjam.zstd, "zstd", data, limit),
    "snappy": _snappy,
    "x-snappy-framed": _snappy,
    "lz4": lambda data, limit: _bounded(cramjam.lz4, "lz4", data, limit),
}
# The config name each Content-Encoding is allowed by (`compression_algorithms`).
_ALGORITHM = {"x-gzip": "gzip", "x-snappy-framed": "snappy"}


def decompress(encoding: str, data: bytes, limit: int, allowed: frozenset[str]) -> bytes:
    """`data` decoded per `encoding` (a Content-Encoding value, "" for none)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if "" not in allowed:
            raise DecodingError("uncompressed requests are not allowed by compression_algorithms")
        return data
    decoder = ENCODINGS.get(encoding)
    if decoder is None or _ALGORITHM.get(encoding, encoding) not in allowed:
        raise DecodingError(f"unsupported Content-Encoding: {encoding}")
    return decoder(data, limit)
