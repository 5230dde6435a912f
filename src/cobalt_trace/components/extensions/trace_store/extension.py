"""Opens the store at start, enforces retention and the size cap periodically, flushes and
closes it at shutdown (extensions stop after the pipelines, so exporters have drained)."""

from __future__ import annotations

import asyncio

from ....pipeline.component import Component
from ....store import BatchingWriter, MemoryStore
from .config import TraceStoreConfig, parse_size

__all__ = ["TraceStoreExtension"]


class TraceStoreExtension(Component):
    def __init__(self, settings, config: TraceStoreConfig):
        super().__init__(settings, config)
        self.logger = settings.telemetry.child_logger(f"extension.{settings.id}")
        self.store = None
        self.writer: BatchingWriter | None = None
        self._retention_task: asyncio.Task | None = None

    def _open(self):
        cfg = self.config
        size = parse_size(cfg.max_size)
        if cfg.engine == "memory":
            return MemoryStore(retention_s=cfg.retention)
        from ....store.clickhouse import open_chdb, open_server

        if cfg.engine == "chdb":
            return open_chdb(cfg.path, cfg.retention, size, cfg.readers)
        return open_server(cfg.dsn, cfg.cluster, cfg.database, cfg.retention, size)

    async def start(self, host) -> None:
        self.store = await asyncio.to_thread(self._open)
        self.writer = BatchingWriter(self.store, self.config.batch_size, self.config.flush_interval)
        self._retention_task = asyncio.get_running_loop().create_task(self._retention_loop())

    async def _retention_loop(self) -> None:
        while True:
            try:
                dropped = await asyncio.to_thread(self.store.enforce_retention)
                if dropped:
                    self.logger.info("Retention dropped %d partitions", dropped)
            except Exception as exc:  # keep the store serving; try again next round
                self.logger.warning("Retention check failed: %s", exc)
            await asyncio.sleep(self.config.retention_check_interval)

    async def shutdown(self) -> None:
        if self._retention_task is not None:
            self._retention_task.cancel()
            await asyncio.gather(self._retention_task, return_exceptions=True)
            self._retention_task = None
        if self.writer is not None:
            await self.writer.flush()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
            self.store = None
