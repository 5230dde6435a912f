"""One batch to several consumers (pipelines after a shared receiver, exporters of a pipeline).

Consumers run concurrently, so one slow exporter does not hold the others up.  A consumer that
changes data in place (`mutates_data`) gets its own copy, except that the last one may keep the
original when no read-only consumer shares it (the collector's fanoutconsumer does the same).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..wire.batch import SpanBatch
from .errors import ConsumerError, PermanentError, RetryableError

__all__ = ["FanOut", "fan_out"]


class FanOut:
    def __init__(self, consumers: Sequence, mutating: Sequence[bool] | None = None):
        self.consumers = list(consumers)
        flags = (
            list(mutating) if mutating is not None else [getattr(c, "mutates_data", False) for c in consumers]
        )
        self._readonly = [c for c, m in zip(self.consumers, flags, strict=True) if not m]
        self._mutating = [c for c, m in zip(self.consumers, flags, strict=True) if m]
        self.mutates_data = False  # it hands copies to the consumers that mutate

    async def consume(self, batch: SpanBatch) -> None:
        calls = []
        for i, consumer in enumerate(self._mutating):
            # The original may go to the last mutating consumer only if nobody else reads it.
            last_and_alone = i == len(self._mutating) - 1 and not self._readonly
            calls.append(consumer.consume(batch if last_and_alone else batch.copy()))
        calls.extend(c.consume(batch) for c in self._readonly)
        results = await asyncio.gather(*calls, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if not errors:
            return
        if len(errors) == 1:
            raise errors[0]
        retryable = all(isinstance(e, ConsumerError) and e.retryable for e in errors)
        message = "; ".join(str(e) for e in errors)
        raise (RetryableError if retryable else PermanentError)(message)


def fan_out(consumers: Sequence, mutating: Sequence[bool] | None = None):
    """A single consumer as itself, several behind a `FanOut`."""
    if len(consumers) == 1:
        return consumers[0]
    return FanOut(consumers, mutating)
