"""Trace and span ids: hex text ↔ 16/8 raw bytes, random non-zero ids.

Parsing follows Jaeger and Tempo query APIs: hex of either case, shorter ids left-padded with
zeros (a 64-bit Jaeger trace id "abc" is 0…0abc), longer ones or all-zero ids rejected.
"""

from __future__ import annotations

import os

from .errors import WireError

__all__ = [
    "parse_span_id",
    "parse_trace_id",
    "random_span_id",
    "random_trace_id",
    "span_id_hex",
    "trace_id_hex",
]

_HEX = frozenset("0123456789abcdefABCDEF")


def trace_id_hex(trace_id: bytes) -> str:
    return trace_id.hex()


def span_id_hex(span_id: bytes) -> str:
    return span_id.hex()


def _parse(text: str, size: int, what: str) -> bytes:
    if not isinstance(text, str):
        raise WireError(f"{what}: expected a hex string, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise WireError(f"{what}: empty")
    if len(text) > 2 * size:
        raise WireError(f"{what}: at most {2 * size} hex digits, got {len(text)}")
    if not _HEX.issuperset(text):
        raise WireError(f"{what}: invalid hex {text!r}")
    raw = bytes.fromhex(text.rjust(2 * size, "0"))
    if not any(raw):
        raise WireError(f"{what}: must not be all zeros")
    return raw


def parse_trace_id(text: str) -> bytes:
    """16 bytes from 1–32 hex digits (left-padded with zeros)."""
    return _parse(text, 16, "trace id")


def parse_span_id(text: str) -> bytes:
    """8 bytes from 1–16 hex digits (left-padded with zeros)."""
    return _parse(text, 8, "span id")


def _random(size: int) -> bytes:
    while True:
        raw = os.urandom(size)
        if any(raw):
            return raw


def random_trace_id() -> bytes:
    return _random(16)


def random_span_id() -> bytes:
    return _random(8)
