"""Serves the process's own metrics as Prometheus text (default localhost:8888/metrics)."""

from __future__ import annotations

import os
import resource
import time

from ..pipeline.simplehttp import start_http
from ..pipeline.telemetry import Registry

__all__ = ["SelfMetricsServer", "register_process_metrics"]


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def register_process_metrics(registry: Registry) -> None:
    started = time.time()
    registry.gauge("otelcol_process_uptime", "Uptime of the process (seconds)").set_function(
        lambda: time.time() - started
    )
    registry.gauge(
        "otelcol_process_memory_rss", "Total physical memory (resident set size) (bytes)"
    ).set_function(_rss_bytes)

    def cpu_seconds() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    registry.gauge("otelcol_process_cpu_seconds", "Total CPU user and system time (seconds)").set_function(
        cpu_seconds
    )


class SelfMetricsServer:
    def __init__(self, registry: Registry, host: str, port: int):
        self.registry = registry
        self.host, self.port = host, port
        self._server = None

    async def start(self) -> None:
        self._server = await start_http(self.host, self.port, self._handle)
        self.port = self._server.sockets[0].getsockname()[1]

    def _handle(self, method: str, target: str):
        if target.split("?", 1)[0] != "/metrics":
            return 404, {"Content-Type": "text/plain"}, b"404 page not found\n"
        body = self.registry.render().encode()
        return 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}, body

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
