"""Serve the query app with uvicorn inside an already running asyncio loop."""

from __future__ import annotations

import asyncio
import logging

from ..store.api import TraceReader
from .app import create_app

__all__ = ["QueryServer"]


class QueryServer:
    def __init__(self, reader: TraceReader, host: str = "127.0.0.1", port: int = 3200):
        self.app = create_app(reader)
        self.host, self.port = host, port
        self._server = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            lifespan="off",
            log_level=logging.WARNING,
            access_log=False,
            http="httptools",
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # the collector owns the signals
        self._server = server
        self._task = asyncio.get_running_loop().create_task(server.serve(), name="trace-query-http")
        while not server.started:
            if self._task.done():
                try:
                    self._task.result()
                except SystemExit:  # uvicorn exits when it cannot bind
                    pass
                raise OSError(f"query server could not listen on {self.host}:{self.port}")
            await asyncio.sleep(0.01)
        sock = server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        self._server = None
