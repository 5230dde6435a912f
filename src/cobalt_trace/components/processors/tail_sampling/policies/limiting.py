"""`rate_limiting` (spans) and `bytes_limiting` (serialized bytes): token buckets.

Both follow `golang.org/x/time/rate.Limiter.AllowN` as contrib uses it: the bucket starts full,
refills continuously at the rate up to the burst (default 2 x rate), and a trace passes only if
its whole cost fits; a trace costing more than the burst never passes.  A refused trace takes no
tokens.
"""

from __future__ import annotations

from collections.abc import Callable

from .decision import Decision

__all__ = ["TokenBucket", "RateLimiting", "BytesLimiting"]


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float]):
        self.rate = float(rate)
        self.burst = int(burst)
        self.tokens = float(burst)
        self._clock = clock
        self._last: float | None = None

    def allow(self, n: int) -> bool:
        now = self._clock()
        if self.rate <= 0:
            # x/time/rate with a zero limit: only the initial burst can ever be spent
            if n <= self.burst:
                self.burst -= n
                return True
            return False
        if n > self.burst:
            return False
        tokens = self.tokens
        if self._last is not None and now > self._last:
            tokens = min(float(self.burst), tokens + (now - self._last) * self.rate)
        if tokens < n:
            return False
        self.tokens = tokens - n
        self._last = now
        return True


class RateLimiting:
    stateful = True

    def __init__(self, spans_per_second: int, burst_capacity: int, clock: Callable[[], float]):
        burst = burst_capacity if burst_capacity > 0 else 2 * spans_per_second
        self.bucket = TokenBucket(spans_per_second, burst, clock)

    def evaluate(self, trace) -> Decision:
        return Decision.SAMPLED if self.bucket.allow(trace.span_count) else Decision.NOT_SAMPLED


class BytesLimiting:
    stateful = True

    def __init__(self, bytes_per_second: int, burst_capacity: int, clock: Callable[[], float]):
        burst = burst_capacity if burst_capacity > 0 else 2 * bytes_per_second
        self.bucket = TokenBucket(bytes_per_second, burst, clock)

    def evaluate(self, trace) -> Decision:
        return Decision.SAMPLED if self.bucket.allow(trace.size_bytes()) else Decision.NOT_SAMPLED
