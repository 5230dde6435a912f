"""The `batch` processor (core `batchprocessor`), on one asyncio loop.

`consume` only buffers: like upstream it returns before the data is exported, and a send error is
logged and counted, never returned to the receiver.  Each batcher (one, or one per distinct
combination of `metadata_keys` values) keeps

- `pending`: consumed batches not yet sent, joined with `SpanBatch.concat` when cut (no span is
  decoded; `split` parses only the container around the span bytes);
- `ready`: cut batches waiting for the batcher's sender task, which awaits the next consumer one
  batch at a time, in order, with the batcher's client metadata restored.

Triggers as upstream: reaching `send_batch_size` cuts at once (pieces of `send_batch_max_size`;
a remainder below `send_batch_size` keeps waiting), and a timer cuts a non-empty batch `timeout`
after it started filling or after the last size-triggered cut.  `timeout: 0` or
`send_batch_size: 0` cut every consumed batch immediately.  Memory is bounded: when more than
`max_buffered_spans` are pending or being sent, `consume` waits (backpressure to the receiver).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from ....pipeline.client import ClientInfo, current_client, set_client
from ....pipeline.component import Component, Consumer, CreateSettings
from ....pipeline.errors import PermanentError
from ....pipeline.processorhelper import ItemCounters
from ....wire.batch import SpanBatch
from .config import BatchConfig

__all__ = ["BatchProcessor", "default_buffer_limit", "TOO_MANY_BATCHERS"]

TOO_MANY_BATCHERS = "too many batcher metadata-value combinations"
_SIZE, _TIMEOUT = "size", "timeout"
SEND_SIZE_BUCKETS = (
    10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000,
    10000, 20000, 30000, 50000, 100000,
)  # fmt: skip


def default_buffer_limit(config: BatchConfig) -> int:
    """Spans held (pending + being sent) before `consume` waits."""
    return max(10 * max(config.send_batch_size, config.send_batch_max_size), 100_000)


class _Batcher:
    __slots__ = ("proc", "client", "pending", "pending_count", "timer", "ready", "sender")

    def __init__(self, proc: BatchProcessor, client: ClientInfo):
        self.proc = proc
        self.client = client
        self.pending: list[SpanBatch] = []
        self.pending_count = 0
        self.timer: asyncio.TimerHandle | None = None
        self.ready: deque[tuple[SpanBatch, str]] = deque()
        self.sender: asyncio.Task | None = None

    def add(self, batch: SpanBatch, count: int) -> None:
        self.pending.append(batch)
        self.pending_count += count
        proc = self.proc
        if not proc.has_timer:
            self.cut(_SIZE, keep_remainder=False)
        elif self.pending_count >= proc.send_batch_size:
            self.cut(_SIZE, keep_remainder=True)
            self.stop_timer()
            if self.pending_count:
                self.start_timer()
        elif self.timer is None:
            self.start_timer()

    def cut(self, trigger: str, *, keep_remainder: bool) -> None:
        """Move pending spans to `ready` in pieces of at most `send_batch_max_size`."""
        if not self.pending_count:
            return
        proc = self.proc
        merged = SpanBatch.concat(self.pending)
        limit = proc.send_batch_max_size
        pieces = merged.split(limit) if limit and self.pending_count > limit else [merged]
        self.pending, self.pending_count = [], 0
        if keep_remainder and pieces[-1].span_count < proc.send_batch_size:
            last = pieces.pop()
            self.pending, self.pending_count = [last], last.span_count
        self.ready.extend((piece, trigger) for piece in pieces)
        if self.sender is None and self.ready:
            self.sender = asyncio.get_running_loop().create_task(self._send_ready())

    def start_timer(self) -> None:
        self.timer = asyncio.get_running_loop().call_later(self.proc.timeout, self._on_timer)

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _on_timer(self) -> None:
        self.timer = None
        self.cut(_TIMEOUT, keep_remainder=False)

    async def _send_ready(self) -> None:
        # This task runs in its own copy of the context: downstream sees the batcher's client.
        set_client(self.client)
        proc = self.proc
        try:
            while self.ready:
                batch, trigger = self.ready.popleft()
                await proc.send(batch, trigger)
        finally:
            self.sender = None


class BatchProcessor(Component):
    mutates_data = False

    def __init__(
        self,
        settings: CreateSettings,
        config: BatchConfig,
        next_consumer: Consumer,
        *,
        max_buffered_spans: int | None = None,
    ):
        super().__init__(settings, config)
        self._next = next_consumer
        self.timeout = float(config.timeout)
        self.send_batch_size = config.send_batch_size
        self.send_batch_max_size = config.send_batch_max_size
        self.has_timer = self.timeout > 0 and self.send_batch_size > 0
        self.metadata_keys = tuple(k.lower() for k in config.metadata_keys)
        self.cardinality_limit = config.metadata_cardinality_limit
        self.max_buffered_spans = max_buffered_spans or default_buffer_limit(config)
        self.buffered = 0  # spans pending or being sent, across batchers
        self._space_waiters: list[asyncio.Future] = []
        self._batchers: dict[tuple, _Batcher] = {}
        self._stopped = False
        self._log = settings.telemetry.child_logger(f"processor.{settings.id}")
        self._init_metrics(settings)

    def _init_metrics(self, settings: CreateSettings) -> None:
        m = settings.telemetry.metrics
        pid = str(settings.id)
        self._send_size = m.histogram(
            "otelcol_processor_batch_batch_send_size", "Number of units in the batch", SEND_SIZE_BUCKETS
        ).labels(processor=pid)
        self._triggers = {
            _SIZE: m.counter(
                "otelcol_processor_batch_batch_size_trigger_send",
                "Number of times the batch was sent due to a size trigger",
            ).labels(processor=pid),
            _TIMEOUT: m.counter(
                "otelcol_processor_batch_timeout_trigger_send",
                "Number of times the batch was sent due to a timeout trigger",
            ).labels(processor=pid),
        }
        self._send_failed = m.counter(
            "otelcol_processor_batch_send_failed_spans", "Spans the next consumer refused after batching"
        ).labels(processor=pid)
        m.gauge(
            "otelcol_processor_batch_metadata_cardinality", "Number of distinct metadata value combinations"
        ).set_function(lambda: len(self._batchers) if self.metadata_keys else 1, processor=pid)
        counters = ItemCounters(settings)
        self._incoming, self._outgoing = counters.incoming, counters.outgoing

    # -- consumer ------------------------------------------------------------------------------
    async def consume(self, batch: SpanBatch) -> None:
        count = batch.span_count
        if count == 0:
            return
        self._incoming.add(count)
        if self._stopped:  # late data after shutdown: pass it on unbatched rather than lose it
            await self.send(batch, _SIZE, buffered=False)
            return
        batcher = self._batcher_for(current_client())
        while self.buffered and self.buffered + count > self.max_buffered_spans:
            waiter = asyncio.get_running_loop().create_future()
            self._space_waiters.append(waiter)
            await waiter
        if self._stopped:
            await self.send(batch, _SIZE, buffered=False)
            return
        self.buffered += count
        batcher.add(batch, count)

    def _batcher_for(self, client: ClientInfo) -> _Batcher:
        if not self.metadata_keys:
            key: tuple = ()
        else:
            key = tuple(client.get(k) for k in self.metadata_keys)
        batcher = self._batchers.get(key)
        if batcher is None:
            if (
                self.metadata_keys
                and self.cardinality_limit
                and len(self._batchers) >= self.cardinality_limit
            ):
                raise PermanentError(TOO_MANY_BATCHERS)
            metadata = {k: v for k, v in zip(self.metadata_keys, key, strict=True) if v}
            batcher = self._batchers[key] = _Batcher(self, ClientInfo(metadata=metadata))
        return batcher

    async def send(self, batch: SpanBatch, trigger: str, *, buffered: bool = True) -> None:
        count = batch.span_count
        self._outgoing.add(count)
        try:
            await self._next.consume(batch)
        except Exception as exc:  # upstream only logs: the receiver was answered long ago
            self._send_failed.add(count)
            self._log.warning("Sender failed: %s", exc, exc_info=self._log.isEnabledFor(logging.DEBUG))
        else:
            self._send_size.observe(count)
            self._triggers[trigger].add()
        finally:
            if buffered:
                self._release(count)

    def _release(self, count: int) -> None:
        self.buffered -= count
        if self._space_waiters:
            waiters, self._space_waiters = self._space_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def batcher_count(self) -> int:
        return len(self._batchers)

    async def shutdown(self) -> None:
        """Send everything pending, then wait for every sender to finish."""
        self._stopped = True
        while True:
            for batcher in self._batchers.values():
                batcher.stop_timer()
                batcher.cut(_TIMEOUT, keep_remainder=False)
            senders = [b.sender for b in self._batchers.values() if b.sender is not None]
            if not senders:
                break
            await asyncio.gather(*senders, return_exceptions=True)
        self._release(0)
