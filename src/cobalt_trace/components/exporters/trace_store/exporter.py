"""Each attempt decodes the batch, joins the store's pending group-commit insert and returns
once that insert is stored; the exporter helper adds queueing, retry and timeout.  A store
failure is retryable; spans the store can never take (a malformed batch) are permanent."""

from __future__ import annotations

from ....pipeline.component import Component
from ....pipeline.errors import PermanentError, RetryableError
from ....pipeline.exporterhelper import ExporterHelper
from ....store import StoreError
from ....wire.batch import SpanBatch
from ....wire.errors import WireError

__all__ = ["TraceStoreExporter"]


class TraceStoreExporter(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self._helper = ExporterHelper(
            settings,
            self.send,
            timeout=config.timeout,
            retry=config.retry_on_failure,
            queue=config.sending_queue,
        )
        self._writer = None

    async def start(self, host) -> None:
        storage = host.get_extension(self.config.storage)
        writer = getattr(storage, "writer", None)
        if writer is None:
            raise RuntimeError(f"storage: extension {self.config.storage} is not a started trace_store")
        self._writer = writer
        await self._helper.start(host)

    async def consume(self, batch: SpanBatch) -> None:
        await self._helper.consume(batch)

    async def send(self, batch: SpanBatch) -> None:
        try:
            await self._writer.write(batch)
        except WireError as exc:
            raise PermanentError(f"cannot decode spans: {exc}") from exc
        except StoreError as exc:
            raise RetryableError(f"trace store: {exc}") from exc

    async def shutdown(self) -> None:
        await self._helper.shutdown()
