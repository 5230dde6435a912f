"""Answers 200 while the collector runs its pipelines and 503 before start and during shutdown."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from ....pipeline.component import Component
from ....pipeline.configtls import server_ssl_context
from ....pipeline.simplehttp import split_endpoint, start_http

__all__ = ["HealthCheck"]


class HealthCheck(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self._server = None
        self._host = None
        self._since: float | None = None
        self.port: int | None = None

    @property
    def ready(self) -> bool:
        return bool(self._host is not None and getattr(self._host, "ready", False))

    async def start(self, host) -> None:
        self._host = host
        bind, port = split_endpoint(self.config.endpoint, 13133)
        ctx = server_ssl_context(self.config.tls) if self.config.tls else None
        self._server = await start_http(bind, port, self._handle, ctx)
        self.port = self._server.sockets[0].getsockname()[1]

    def _handle(self, method: str, target: str):
        path = target.split("?", 1)[0]
        if path != self.config.path:
            return 404, {"Content-Type": "text/plain"}, b"404 page not found\n"
        if method not in ("GET", "HEAD"):
            return 405, {"Content-Type": "text/plain"}, b"method not allowed\n"
        custom = self.config.response_body or {}
        if self.ready:
            if self._since is None:
                self._since = time.time()
            if "healthy" in custom:
                return 200, {"Content-Type": "text/plain"}, custom["healthy"].encode()
            body = {
                "status": "Server available",
                "upSince": datetime.fromtimestamp(self._since, UTC).isoformat(),
                "uptime": f"{time.time() - self._since:.3f}s",
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        if "unhealthy" in custom:
            return 503, {"Content-Type": "text/plain"}, custom["unhealthy"].encode()
        return (
            503,
            {"Content-Type": "application/json"},
            json.dumps({"status": "Server not available"}).encode(),
        )

    async def shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
