"""Serves the query API with uvicorn on the collector's event loop."""

from __future__ import annotations

from ....pipeline.component import Component
from ....pipeline.simplehttp import split_endpoint
from ....query import QueryServer

__all__ = ["TraceQueryExtension"]


class TraceQueryExtension(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self.server: QueryServer | None = None
        self.port: int | None = None

    async def start(self, host) -> None:
        storage = host.get_extension(self.config.storage)
        store = getattr(storage, "store", None)
        if store is None:
            raise RuntimeError(f"storage: extension {self.config.storage} is not a started trace_store")
        bind, port = split_endpoint(self.config.endpoint, 3200)
        self.server = QueryServer(store, bind, port)
        await self.server.start()
        self.port = self.server.port

    async def shutdown(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
