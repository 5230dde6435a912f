"""A consistent-hash ring: each backend owns many points on a 32-bit circle, so adding or
removing one backend moves only about its share of keys (README of the upstream exporter:
"about R/N routes move")."""

from __future__ import annotations

import bisect
import zlib

__all__ = ["HashRing", "POINTS_PER_BACKEND"]

POINTS_PER_BACKEND = 150


class HashRing:
    def __init__(self, endpoints: list[str]):
        self.endpoints = sorted(set(endpoints))
        points = []
        for endpoint in self.endpoints:
            for i in range(POINTS_PER_BACKEND):
                points.append((zlib.crc32(f"{endpoint}#{i}".encode()), endpoint))
        points.sort()
        self._hashes = [h for h, _ in points]
        self._owners = [e for _, e in points]

    def __len__(self) -> int:
        return len(self.endpoints)

    def lookup(self, key: bytes) -> str:
        if not self._hashes:
            raise LookupError("no backends")
        i = bisect.bisect_left(self._hashes, zlib.crc32(key))
        return self._owners[i if i < len(self._owners) else 0]
