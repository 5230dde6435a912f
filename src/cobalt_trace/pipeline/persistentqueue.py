"""The sending queue on disk (`sending_queue.storage: file_storage/<name>`).

Each request is appended to the storage client as one record (meta = its span count, payload =
`SpanBatch.to_bytes()`) before `offer`/`put` returns, so once the exporter's `consume` returns
the data is on disk as the storage's fsync policy defines it, and the receiver's "OK" to the
client means exactly that.  Workers `get` a record (read back from disk: memory stays bounded by
the workers, not by the queue), and `ack` it when it was sent or given up for good; only then is
it deleted.  Records not acknowledged when the process ends — killed, or shut down while sending
— are delivered again at the next start: at least once, duplicates possible, nothing lost.

Capacity and `size` count requests or spans (`sizer`) until acknowledged, like the in-memory
queue.  A record that no longer matches its checksum is logged and dropped.

The guarantee covers what reaches the exporter: a `batch` processor in front of it acknowledges
data it still holds in memory, which a `kill -9` loses (as upstream).  Pipelines that must not
lose acknowledged spans leave `batch` out, or accept that window.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Protocol

from ..wire.batch import SpanBatch
from .errors import PermanentError, RetryableError
from .exporterhelper import _Closed, _Request, _wait, _wake

__all__ = ["StorageLog", "PersistentQueue"]


class StorageLog(Protocol):
    """What the queue needs from a storage client (`file_storage`'s `SegmentLog`)."""

    recovered: list[tuple[int, int]]  # (seq, meta) of records left unacknowledged by the last run

    async def append(self, records: list[tuple[int, bytes]]) -> list[int]: ...

    def read(self, seq: int) -> bytes: ...

    def ack(self, seq: int) -> None: ...

    async def aclose(self) -> None: ...


class _Token:
    __slots__ = ("seq", "weight")

    def __init__(self, seq: int, weight: int):
        self.seq = seq
        self.weight = weight


class PersistentQueue:
    """A `SendQueue` whose records live in a `StorageLog`."""

    persistent = True

    def __init__(
        self,
        log: StorageLog,
        capacity: int,
        sizer: str = "requests",
        logger: logging.Logger | None = None,
    ):
        self.capacity = capacity
        self._log = log
        self._by_items = sizer == "items"
        self._logger = logger or logging.getLogger("cobalt_trace.persistentqueue")
        self._ready: collections.deque[tuple[int, int]] = collections.deque()  # (seq, span count)
        self._waiting_results: dict[int, asyncio.Future] = {}
        self._size = 0
        self._closed = False
        self._getters: collections.deque[asyncio.Future] = collections.deque()
        self._putters: collections.deque[asyncio.Future] = collections.deque()
        for seq, spans in log.recovered:
            self._ready.append((seq, spans))
            self._size += self._weight_of(spans)
        self.recovered_requests = len(log.recovered)
        self.recovered_spans = sum(spans for _, spans in log.recovered)

    @property
    def size(self) -> int:
        return self._size

    def _weight_of(self, spans: int) -> int:
        return spans if self._by_items else 1

    async def _store(self, request: _Request, weight: int) -> None:
        """Append with `weight` already reserved; undo the reservation when the disk refuses."""
        batch = request.batch
        try:
            (seq,) = await self._log.append([(batch.span_count, batch.to_bytes())])
        except (OSError, RuntimeError) as exc:
            self._release(weight)
            raise RetryableError(f"persistent queue: cannot store the request: {exc}") from exc
        if request.done is not None:
            self._waiting_results[seq] = request.done
        self._ready.append((seq, batch.span_count))
        _wake(self._getters, everyone=False)

    async def offer(self, request: _Request) -> bool:
        if self._closed:
            raise _Closed
        weight = self._weight_of(request.batch.span_count)
        if self._size + weight > self.capacity:
            return False
        self._size += weight
        await self._store(request, weight)
        return True

    async def put(self, request: _Request) -> None:
        weight = self._weight_of(request.batch.span_count)
        if weight > self.capacity:
            raise PermanentError(f"request of {weight} spans is larger than the queue ({self.capacity})")
        while not self._closed and self._size + weight > self.capacity:
            await _wait(self._putters)
        if self._closed:
            raise _Closed
        self._size += weight
        await self._store(request, weight)

    async def get(self):
        """The next request and its token, or None once the queue is closed (what is left stays
        on disk for the next start)."""
        while True:
            while not self._ready and not self._closed:
                await _wait(self._getters)
            if self._closed:
                return None
            seq, spans = self._ready.popleft()
            token = _Token(seq, self._weight_of(spans))
            try:
                data = self._log.read(seq)
            except Exception as exc:  # a damaged record can never be sent; do not block the queue
                self._logger.error(
                    "persistent queue: dropping record %d (%d spans) that cannot be read back: %s",
                    seq,
                    spans,
                    exc,
                )
                self.ack(token)
                continue
            batch = SpanBatch(data=data, span_count=spans)
            return _Request(batch, self._waiting_results.pop(seq, None)), token

    def ack(self, token: _Token) -> None:
        """The request was sent or given up for good: delete it."""
        self._log.ack(token.seq)
        self._release(token.weight)

    def abandon(self, token: _Token) -> bool:
        """The request was interrupted by shutdown: keep it on disk for the next start.
        Returns False: the data is not lost."""
        self._waiting_results.pop(token.seq, None)
        self._release(token.weight)
        return False

    def _release(self, weight: int) -> None:
        self._size -= weight
        _wake(self._putters, everyone=True)

    def close(self) -> None:
        self._closed = True
        _wake(self._getters, everyone=True)
        _wake(self._putters, everyone=True)

    def drain_remaining(self) -> list[_Request]:
        """Nothing is dropped: the requests not yet sent stay on disk."""
        return []

    @property
    def stored_requests(self) -> int:
        """Requests on disk not yet acknowledged (waiting, or being sent)."""
        return len(self._ready)

    async def release_storage(self) -> None:
        await self._log.aclose()
