"""One batch to several consumers (pipelines after a shared receiver, exporters of a pipeline).

Consumers run concurrently (`asyncio.gather`), so one slow exporter without a sending queue
does not hold up the others; upstream calls them one after another, which in Go costs nothing
extra because each exporter queues.  A consumer that changes data in place (`mutates_data`)
gets its own copy, except that the last one may keep the original when no read-only consumer
shares it (the collector's fanoutconsumer does the same).  Copies are made before any consumer
runs, so no consumer ever sees another one's changes.

Errors: every consumer is called even if another fails; one failure is re-raised as it is,
several are combined into one error that is retryable only if all of them were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..wire.batch import SpanBatch
from .errors import ConsumerError, PermanentError, RetryableError

__all__ = ["FanOut", "fan_out", "combine_errors"]


class FanOut:
    def __init__(self, consumers: Sequence, mutating: Sequence[bool] | None = None):
        """`mutating` overrides each consumer's own `mutates_data` (a pipeline's entry may not
        mutate while a processor behind it does)."""
        self.consumers = list(consumers)
        if not self.consumers:
            raise ValueError("a fan-out needs at least one consumer")
        flags = (
            list(mutating)
            if mutating is not None
            else [getattr(c, "mutates_data", False) for c in self.consumers]
        )
        self._readonly = [c for c, m in zip(self.consumers, flags, strict=True) if not m]
        self._mutating = [c for c, m in zip(self.consumers, flags, strict=True) if m]
        # Only when the original goes to a mutating consumer does our caller's batch change.
        self.mutates_data = bool(self._mutating) and not self._readonly

    async def consume(self, batch: SpanBatch) -> None:
        calls = []
        last = len(self._mutating) - 1
        for i, consumer in enumerate(self._mutating):
            keep_original = i == last and not self._readonly
            calls.append(consumer.consume(batch if keep_original else batch.copy()))
        calls.extend(c.consume(batch) for c in self._readonly)
        if len(calls) == 1:
            await calls[0]
            return
        results = await asyncio.gather(*calls, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise combine_errors(errors)

    def __repr__(self) -> str:
        return f"FanOut({self.consumers!r})"


def combine_errors(errors: Sequence[BaseException]) -> BaseException:
    """One error for several consumers' failures: retryable only if every one is (a permanent
    failure anywhere means resending would duplicate data where it did succeed and still fail)."""
    if len(errors) == 1:
        return errors[0]
    for e in errors:  # cancellation is not a consumer's verdict: let it through
        if isinstance(e, asyncio.CancelledError) or not isinstance(e, Exception):
            return e
    message = "; ".join(str(e) or type(e).__name__ for e in errors)
    if all(isinstance(e, ConsumerError) and e.retryable for e in errors):
        delays = [e.retry_after for e in errors if e.retry_after is not None]
        codes = {e.grpc_code for e in errors}
        return RetryableError(
            message,
            grpc_code=codes.pop() if len(codes) == 1 else None,
            retry_after=max(delays) if delays else None,
        )
    return PermanentError(message)


def fan_out(consumers: Sequence, mutating: Sequence[bool] | None = None):
    """A single consumer as itself (no extra hop), several behind a `FanOut`."""
    if len(consumers) == 1:
        return consumers[0]
    return FanOut(consumers, mutating)
