"""Pre-built OTLP requests whose trace ids are re-stamped per send, so a long run never repeats
a trace id without re-encoding anything: each trace id is 8 random bytes, a 4-byte trace index
and a 4-byte slot that `RequestPool.next()` overwrites with a run-wide counter."""

from __future__ import annotations

import struct
import time

from .openstack import TraceFactory, build_request

__all__ = ["RequestPool"]


class RequestPool:
    def __init__(
        self, spans_per_request: int = 1024, pool_size: int = 16, seed: int = 1, now_ns: int | None = None
    ):
        factory = TraceFactory(seed=seed)
        now_ns = now_ns or time.time_ns()
        self._items: list[tuple[bytes, list[int], int]] = []
        for r in range(pool_size):
            prefix = factory.rng.randbytes(8)
            spans = []
            t = 0
            while len(spans) < spans_per_request:
                trace_id = prefix + struct.pack(">I", t) + b"\0\0\0\0"
                spans.extend(factory.trace(now_ns, trace_id=trace_id))
                t += 1
            spans = spans[:spans_per_request]
            data = build_request(spans).SerializeToString()
            offsets, pos = [], data.find(prefix)
            while pos >= 0:
                offsets.append(pos + 12)
                pos = data.find(prefix, pos + 16)
            self._items.append((data, offsets, len(spans)))
            del r
        self._next = 0
        self._counter = 0

    def next(self) -> tuple[bytes, int]:
        """The next request (bytes, span count) with trace ids unique in this run."""
        data, offsets, count = self._items[self._next % len(self._items)]
        self._next += 1
        self._counter += 1
        stamp = struct.pack(">I", self._counter & 0xFFFFFFFF)
        buf = bytearray(data)
        for off in offsets:
            buf[off : off + 4] = stamp
        return bytes(buf), count
