"""`probabilistic`: keep a trace when FNV-1a-64(salt || trace id) is at or below a threshold.

Same hash, salt default and threshold arithmetic as contrib `internal/sampling/probabilistic.go`,
so a mixed fleet (ours and the Go collector) keeps exactly the same trace ids for the same salt.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .decision import Decision

__all__ = ["DEFAULT_HASH_SALT", "Probabilistic", "fnv1a_64", "sampling_threshold"]

DEFAULT_HASH_SALT = "default-hash-seed"
_OFFSET = 0xCBF29CE484222325
_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1
_MAX_UINT64 = _MASK


def fnv1a_64(data: bytes, h: int = _OFFSET) -> int:
    """FNV-1a, 64 bits (Go `hash/fnv.New64a`); pass `h` to continue from an earlier state."""
    for byte in data:
        h = ((h ^ byte) * _PRIME) & _MASK
    return h


def sampling_threshold(ratio: float) -> int:
    """Upstream `calculateThreshold`: big.Float(MaxUint64) * ratio, rounded to the 64-bit mantissa
    of the left operand (nearest even), then truncated to uint64 (0 below 0, MaxUint64 above)."""
    if math.isnan(ratio) or ratio <= 0:
        return 0
    exact = Fraction(_MAX_UINT64) * Fraction(ratio)
    if exact >= _MAX_UINT64:
        return _MAX_UINT64
    # Round to 64 significant bits, as big.Float with precision 64 does.
    shift = exact.numerator.bit_length() - exact.denominator.bit_length()
    while Fraction(2) ** shift > exact:
        shift -= 1
    while Fraction(2) ** (shift + 1) <= exact:
        shift += 1
    scale = Fraction(2) ** (shift - 63)  # mantissa in [2^63, 2^64)
    rounded = round(exact / scale) * scale  # round() on a Fraction rounds half to even
    return min(_MAX_UINT64, math.floor(rounded))


class Probabilistic:
    stateful = False

    def __init__(self, hash_salt: str, sampling_percentage: float):
        salt = (hash_salt or DEFAULT_HASH_SALT).encode()
        self._seed = fnv1a_64(salt)  # hash state after the salt, reused for every trace
        self.threshold = sampling_threshold(sampling_percentage / 100)

    def evaluate(self, trace) -> Decision:
        if fnv1a_64(trace.trace_id, self._seed) <= self.threshold:
            return Decision.SAMPLED
        return Decision.NOT_SAMPLED
