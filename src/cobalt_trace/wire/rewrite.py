"""`RewriteCache`: a bounded memo for rewrites of small, often repeated messages.

A gateway sees the same few resources (and scopes) over and over; a processor that changes them
(e.g. `resource` upserting `cluster`) decodes and re-encodes each distinct one once, not once per
request or span.  Keys are the serialized message, plus whatever else the rewrite depends on
(the `resource` processor adds the `from_context` values).  When full, the oldest entry goes, so
lookups stay one dict probe.
"""

from __future__ import annotations

__all__ = ["RewriteCache", "MISS"]

MISS = object()  # returned by `get` for a key that is not cached


class RewriteCache:
    __slots__ = ("_entries", "_max", "hits", "misses")

    def __init__(self, max_entries: int = 4096):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._entries: dict[object, object] = {}
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: object) -> object:
        """The cached value, or `MISS`."""
        value = self._entries.get(key, MISS)
        if value is MISS:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: object, value: object) -> None:
        entries = self._entries
        if len(entries) >= self._max:
            del entries[next(iter(entries))]
        entries[key] = value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
