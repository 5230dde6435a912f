"""`CachedRewriter`: memoise a bytes → bytes rewrite of small, often repeated messages.

A gateway sees the same few resources (and scopes) over and over; a processor that changes them
(e.g. `resource` upserting `cluster`) decodes and re-encodes each distinct one once, not once per
request or span.  The cache is bounded: when full it is cleared, which keeps lookups at one dict
probe and costs one re-encode per distinct message afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CachedRewriter"]


class CachedRewriter:
    __slots__ = ("_transform", "_cache", "max_entries", "hits", "misses")

    def __init__(self, transform: Callable[[bytes], bytes], max_entries: int = 4096):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._transform = transform
        self._cache: dict[bytes, bytes] = {}
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def __call__(self, data: bytes) -> bytes:
        out = self._cache.get(data)
        if out is not None:
            self.hits += 1
            return out
        self.misses += 1
        out = self._transform(data)
        cache = self._cache
        if len(cache) >= self.max_entries:
            cache.clear()
        cache[data] = out
        return out

    def __len__(self) -> int:
        return len(self._cache)

    def clear(self) -> None:
        self._cache.clear()
