"""What every exporter shares: the collector's `exporterhelper` — timeout, retry, sending queue.

An exporter supplies one coroutine, `send(batch)`, that makes a single attempt and raises a
`ConsumerError` on failure (`PermanentError` when the data will never be accepted, a retryable one
otherwise, with `retry_after` when the server asked for a delay).  `ExporterHelper` wraps it:

    consume ─► sending queue (bounded, `num_consumers` workers)  ─► retry with backoff ─► timeout ─► send

Config keys and defaults follow upstream `configretry` and `exporterhelper` (`retry_on_failure`,
`sending_queue`, `timeout`).  The queue sits behind the small `SendQueue` interface
(offer/put/get/ack/abandon/close): `MemoryQueue` here, or with `sending_queue.storage:
file_storage/<name>` the `PersistentQueue` on disk (`persistentqueue.py`), opened at `start(host)`
from that extension as the client `exporter_<type>_<name>_traces`.  A request interrupted by
shutdown is then left on disk for the next start instead of being dropped.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..wire.batch import SpanBatch
from .component import ComponentID, Kind
from .configtypes import Duration
from .errors import ConsumerError, PermanentError, RetryableError

__all__ = [
    "TimeoutConfig",
    "RetryConfig",
    "QueueConfig",
    "SendQueue",
    "MemoryQueue",
    "ExporterHelper",
    "QueueFullError",
    "DEFAULT_DRAIN_TIMEOUT",
    "log_partial_success",
    "client_authenticator",
]

DEFAULT_DRAIN_TIMEOUT = 30.0


@dataclass
class TimeoutConfig:
    """`timeout`: the limit of one attempt (0 = none).  Exporter configs declare their own
    `timeout` field with their own default; this documents the shape."""

    timeout: Duration = Duration(5)

    def validate(self) -> list[str]:
        return ["timeout: must not be negative"] if self.timeout < 0 else []


@dataclass
class RetryConfig:
    """`retry_on_failure` (upstream `configretry.BackOffConfig`)."""

    enabled: bool = True
    initial_interval: Duration = Duration(5)
    randomization_factor: float = 0.5
    multiplier: float = 1.5
    max_interval: Duration = Duration(30)
    max_elapsed_time: Duration = Duration(300)  # 0 = retry forever

    def validate(self) -> list[str]:
        if not self.enabled:
            return []
        errors = []
        if self.initial_interval <= 0:
            errors.append("initial_interval: must be positive")
        if not 0 <= self.randomization_factor <= 1:
            errors.append("randomization_factor: must be between 0 and 1")
        if self.multiplier <= 0:
            errors.append("multiplier: must be positive")
        if self.max_interval <= 0:
            errors.append("max_interval: must be positive")
        if self.max_elapsed_time < 0:
            errors.append("max_elapsed_time: must not be negative")
        return errors


@dataclass
class QueueConfig:
    """`sending_queue` (upstream `exporterhelper.QueueBatchConfig`); on disk with `storage`.

    A request counts against `queue_size` until it is finished (sent or given up), not only while
    it waits, so the bound also covers what the `num_consumers` workers hold — as a persistent
    queue, which deletes a record on ack, would count it."""

    enabled: bool = True
    num_consumers: int = 10
    queue_size: int = 1000
    sizer: Literal["requests", "items", "bytes"] = "requests"
    block_on_overflow: bool = False
    blocking: bool = False  # deprecated upstream name of block_on_overflow
    wait_for_result: bool = False
    storage: str | None = None
    batch: Any = None

    def validate(self) -> list[str]:
        if not self.enabled:
            return []
        errors = []
        if self.num_consumers <= 0:
            errors.append("num_consumers: must be positive")
        if self.queue_size <= 0:
            errors.append("queue_size: must be positive")
        if self.sizer == "bytes":
            errors.append("sizer: 'bytes' is not supported yet; use 'requests' or 'items'")
        if self.storage:
            try:
                ComponentID.parse(self.storage)
            except ValueError as exc:
                errors.append(f"storage: {exc}")
        if self.batch is not None:
            errors.append(
                "batch: batching in the sending queue is not supported yet; use the batch processor"
            )
        return errors


class QueueFullError(RetryableError):
    def __init__(self):
        super().__init__("sending queue is full")


class _Closed(Exception):
    pass


class _ShutdownInterrupt(PermanentError):
    """Retrying stopped because the exporter is shutting down (upstream `experr.shutdownErr`):
    a persistent queue keeps such a request for the next start."""


@dataclass(slots=True)
class _Request:
    batch: SpanBatch
    done: asyncio.Future | None = None  # set when the producer waits for the result


class SendQueue(Protocol):
    """What the workers read from.  `get` hands out a token that must be `ack`ed once the request
    is finished (sent or given up), or `abandon`ed when shutdown interrupted it; a persistent
    queue deletes the record on ack and keeps it on abandon.  `drain_remaining` is called once the
    workers stopped and returns the requests the queue gives up."""

    capacity: int
    persistent: bool

    @property
    def size(self) -> int: ...

    async def offer(self, request: _Request) -> bool: ...

    async def put(self, request: _Request) -> None: ...

    async def get(self) -> tuple[_Request, Any] | None: ...

    def ack(self, token: Any) -> None: ...

    def abandon(self, token: Any) -> bool:
        """Returns whether the request's data is lost."""
        ...

    def close(self) -> None: ...

    def drain_remaining(self) -> list[_Request]: ...


class MemoryQueue:
    """A bounded FIFO measured in requests or in spans (`sizer`)."""

    persistent = False

    def __init__(self, capacity: int, sizer: str = "requests"):
        self.capacity = capacity
        self._by_items = sizer == "items"
        self._items: collections.deque[_Request] = collections.deque()
        self._size = 0
        self._closed = False
        self._getters: collections.deque[asyncio.Future] = collections.deque()
        self._putters: collections.deque[asyncio.Future] = collections.deque()

    @property
    def size(self) -> int:
        return self._size

    def _weight(self, request: _Request) -> int:
        return request.batch.span_count if self._by_items else 1

    async def offer(self, request: _Request) -> bool:
        return self._offer_now(request)

    def _offer_now(self, request: _Request) -> bool:
        if self._closed:
            raise _Closed
        weight = self._weight(request)
        if self._size + weight > self.capacity:
            return False
        self._items.append(request)
        self._size += weight
        _wake(self._getters, everyone=False)
        return True

    async def put(self, request: _Request) -> None:
        weight = self._weight(request)
        if weight > self.capacity:
            raise PermanentError(f"request of {weight} spans is larger than the queue ({self.capacity})")
        while not self._closed and self._size + weight > self.capacity:
            await _wait(self._putters)
        if not self._offer_now(request):  # cannot happen on one loop, but never lose data silently
            raise QueueFullError()

    async def get(self) -> tuple[_Request, Any] | None:
        while not self._items and not self._closed:
            await _wait(self._getters)
        if not self._items:
            return None
        request = self._items.popleft()
        return request, request

    def ack(self, token: Any) -> None:
        self._size -= self._weight(token)
        _wake(self._putters, everyone=True)

    def abandon(self, token: Any) -> bool:
        self.ack(token)
        return True

    def close(self) -> None:
        self._closed = True
        _wake(self._getters, everyone=True)
        _wake(self._putters, everyone=True)

    def drain_remaining(self) -> list[_Request]:
        left = list(self._items)
        self._items.clear()
        self._size = 0
        return left


async def _wait(waiters: collections.deque[asyncio.Future]) -> None:
    fut = asyncio.get_running_loop().create_future()
    waiters.append(fut)
    try:
        await fut
    except asyncio.CancelledError:
        # a wake-up given to a cancelled waiter passes on, so no item waits with idle workers
        if fut.done() and not fut.cancelled():
            _wake(waiters, everyone=False)
        raise
    finally:
        if fut in waiters:
            waiters.remove(fut)


def _wake(waiters: collections.deque[asyncio.Future], *, everyone: bool) -> None:
    while waiters:
        fut = waiters.popleft()
        if not fut.done():
            fut.set_result(None)
            if not everyone:
                return


class ExporterHelper:
    """Timeout + retry + sending queue around an exporter's single-attempt `send`."""

    def __init__(
        self,
        settings,
        send,
        *,
        timeout: float = 5.0,
        retry: RetryConfig | None = None,
        queue: QueueConfig | None = None,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ):
        self._send = send
        self._timeout = float(timeout or 0)
        self._retry = retry if retry is not None else RetryConfig()
        self._queue_cfg = queue if queue is not None else QueueConfig()
        self._drain_timeout = drain_timeout
        self._id = settings.id
        self._name = str(settings.id)
        self.logger = settings.telemetry.child_logger(f"exporter.{self._name}")
        m = settings.telemetry.metrics
        labels = {"exporter": self._name}
        self._sent = m.counter("otelcol_exporter_sent_spans", "Spans successfully sent").labels(**labels)
        self._send_failed = m.counter(
            "otelcol_exporter_send_failed_spans", "Spans that failed to be sent"
        ).labels(**labels)
        self._enqueue_failed = m.counter(
            "otelcol_exporter_enqueue_failed_spans", "Spans that failed to be added to the sending queue"
        ).labels(**labels)
        self._queue_size_gauge = m.gauge("otelcol_exporter_queue_size", "Current size of the sending queue")
        self._queue_cap_gauge = m.gauge("otelcol_exporter_queue_capacity", "Capacity of the sending queue")
        self._in_flight_gauge = m.gauge(
            "otelcol_exporter_in_flight_requests", "Requests being sent, retries included"
        )
        self._labels = labels
        self._in_flight = 0
        self._queue: SendQueue | None = None
        self._workers: list[asyncio.Task] = []
        self._stopping: asyncio.Event | None = None  # created in start(), inside the loop
        self._started = False
        self._shut = False

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self, host=None) -> None:
        """`host` is needed only for `sending_queue.storage` (to find the storage extension)."""
        self._stopping = asyncio.Event()
        self._in_flight_gauge.set_function(lambda: self._in_flight, **self._labels)
        q = self._queue_cfg
        if q.enabled:
            self._queue = (
                self._open_persistent_queue(host) if q.storage else MemoryQueue(q.queue_size, q.sizer)
            )
            self._queue_size_gauge.set_function(
                lambda: self._queue.size if self._queue else 0, **self._labels
            )
            self._queue_cap_gauge.set(q.queue_size, **self._labels)
            self._workers = [
                asyncio.create_task(self._worker(), name=f"{self._name}-sender-{i}")
                for i in range(q.num_consumers)
            ]
        self._started = True

    def _open_persistent_queue(self, host) -> SendQueue:
        from .persistentqueue import PersistentQueue

        q = self._queue_cfg
        if host is None:
            raise RuntimeError(
                f"exporter {self._name}: sending_queue::storage needs the host; the exporter must "
                "call ExporterHelper.start(host)"
            )
        ext = host.get_extension(q.storage)
        if not callable(getattr(ext, "get_client", None)):
            raise ValueError(f"sending_queue::storage: extension {q.storage} is not a storage extension")
        queue = PersistentQueue(
            ext.get_client(Kind.EXPORTER, self._id, "traces"), q.queue_size, q.sizer, self.logger
        )
        if queue.recovered_requests:
            self.logger.info(
                "Persistent queue %s: resuming %d requests (%d spans) left by the previous run",
                q.storage,
                queue.recovered_requests,
                queue.recovered_spans,
            )
        return queue

    async def shutdown(self) -> None:
        """Stop taking data, send what is queued within the drain time, then drop the rest."""
        if self._shut:
            return
        self._shut = True
        if self._stopping is not None:
            self._stopping.set()
        if self._queue is None:
            return
        self._queue.close()
        pending = len(self._workers)
        if self._workers:
            _, not_done = await asyncio.wait(self._workers, timeout=self._drain_timeout)
            pending = len(not_done)
            for task in not_done:
                task.cancel()
            if not_done:
                await asyncio.gather(*not_done, return_exceptions=True)
        left = self._queue.drain_remaining()
        if self._queue.persistent:
            kept = self._queue.stored_requests
            await self._queue.release_storage()
            if kept:
                self.logger.info(
                    "Shutdown: %d requests stay in the persistent queue for the next start", kept
                )
        dropped = sum(r.batch.span_count for r in left)
        for r in left:
            self._finish(r, RetryableError("exporter shut down before the data was sent"))
        if dropped:
            self._send_failed.add(dropped)
        if dropped or pending:
            self.logger.error(
                "Shutdown did not drain the sending queue within %.1fs; dropped %d queued spans "
                "(%d requests were still being sent)",
                self._drain_timeout,
                dropped,
                pending,
            )
        self._queue_size_gauge.remove_function(**self._labels)

    # -- data path --------------------------------------------------------------------------------
    async def consume(self, batch: SpanBatch) -> None:
        if self._shut:
            raise RetryableError(f"exporter {self._name} is shut down")
        if self._queue is None:
            await self._send_counted(batch)
            return
        cfg = self._queue_cfg
        request = _Request(batch)
        if cfg.wait_for_result:
            request.done = asyncio.get_running_loop().create_future()
        try:
            if cfg.block_on_overflow or cfg.blocking:
                await self._queue.put(request)
            elif not await self._queue.offer(request):
                raise QueueFullError()
        except _Closed:
            raise RetryableError(f"exporter {self._name} is shut down") from None
        except ConsumerError:
            self._enqueue_failed.add(batch.span_count)
            self.logger.warning("Sending queue is full; dropping data (dropped_items=%d)", batch.span_count)
            raise
        if request.done is not None:
            await request.done

    async def _worker(self) -> None:
        queue = self._queue
        while True:
            got = await queue.get()
            if got is None:
                return
            request, token = got
            try:
                await self._send_counted(request.batch)
            except _ShutdownInterrupt as exc:
                self._finish(request, exc)
                if queue.abandon(token):
                    self.logger.error(
                        "Exporting failed. Dropping data. error=%s dropped_items=%d",
                        exc,
                        request.batch.span_count,
                    )
                continue
            except ConsumerError as exc:
                self._finish(request, exc)
                self.logger.error(
                    "Exporting failed. Dropping data. error=%s dropped_items=%d",
                    exc,
                    request.batch.span_count,
                )
            except asyncio.CancelledError:
                self._finish(request, RetryableError("exporter shut down while sending"))
                if queue.abandon(token):
                    self._send_failed.add(request.batch.span_count)
                raise
            else:
                self._finish(request, None)
            queue.ack(token)

    @staticmethod
    def _finish(request: _Request, error: BaseException | None) -> None:
        fut = request.done
        if fut is None or fut.done():
            return
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)

    async def _send_counted(self, batch: SpanBatch) -> None:
        n = batch.span_count
        self._in_flight += 1
        try:
            await self._send_with_retry(batch)
        except _ShutdownInterrupt:
            if not (self._queue is not None and self._queue.persistent):
                self._send_failed.add(n)
            raise
        except ConsumerError:
            self._send_failed.add(n)
            raise
        finally:
            self._in_flight -= 1
        self._sent.add(n)

    async def _attempt(self, batch: SpanBatch) -> None:
        try:
            if self._timeout > 0:
                await asyncio.wait_for(self._send(batch), self._timeout)
            else:
                await self._send(batch)
        except ConsumerError:
            raise
        except TimeoutError:
            raise RetryableError(f"request timed out after {self._timeout:g}s") from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an exporter bug or an unexpected client error: retryable, as upstream
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc

    async def _send_with_retry(self, batch: SpanBatch) -> None:
        cfg = self._retry
        if not cfg.enabled:
            await self._attempt(batch)
            return
        started = time.monotonic()
        interval = float(cfg.initial_interval)
        while True:
            try:
                await self._attempt(batch)
                return
            except PermanentError:
                raise
            except ConsumerError as exc:
                error = exc
            delay = interval
            if cfg.randomization_factor:
                spread = cfg.randomization_factor * interval
                delay = random.uniform(interval - spread, interval + spread)
            if error.retry_after is not None:
                delay = max(delay, float(error.retry_after))
            if self._stopping is not None and self._stopping.is_set():
                raise _ShutdownInterrupt(f"interrupted due to shutdown: {error}") from error
            if cfg.max_elapsed_time > 0 and time.monotonic() - started + delay > cfg.max_elapsed_time:
                raise PermanentError(f"no more retries left: {error}") from error
            self.logger.info(
                "Exporting failed. Will retry the request after interval. error=%s interval=%.3fs",
                error,
                delay,
            )
            if await self._sleep_unless_stopping(delay):
                raise _ShutdownInterrupt(f"interrupted due to shutdown: {error}") from error
            interval = min(interval * cfg.multiplier, float(cfg.max_interval))

    async def _sleep_unless_stopping(self, delay: float) -> bool:
        """Sleep `delay` seconds; True if shutdown began meanwhile."""
        if self._stopping is None:
            await asyncio.sleep(delay)
            return False
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            return False
        return True


def log_partial_success(logger: logging.Logger, rejected: int, message: str) -> None:
    """The OTLP rule for a 2xx/OK response carrying `partial_success`: warn, do not retry."""
    if rejected or message:
        logger.warning("Partial success response: message=%r dropped_spans=%d", message, rejected)


def client_authenticator(host, auth_config):
    """The extension named by an exporter's `auth: {authenticator: <id>}`, checked to be a client
    authenticator (has `request_headers()`); None when `auth` is not set."""
    if auth_config is None:
        return None
    from .auth import ClientAuthenticator

    ext = host.get_extension(auth_config.authenticator)
    if not isinstance(ext, ClientAuthenticator):
        raise ValueError(f"auth: extension {auth_config.authenticator} is not a client authenticator")
    return ext
