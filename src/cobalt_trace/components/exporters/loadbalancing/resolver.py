"""Backend lists: `static` (fixed `host[:port]` names) and `dns` (every A/AAAA record of a name,
re-resolved every `interval`, as a headless Kubernetes Service gives one record per pod)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

__all__ = ["StaticBackends", "DNSBackends", "with_port"]


def with_port(hostname: str, port: int = 4317) -> str:
    if hostname.startswith("["):
        return hostname if "]:" in hostname else f"{hostname}:{port}"
    if hostname.count(":") == 1:
        return hostname
    if ":" in hostname:  # bare IPv6
        return f"[{hostname}]:{port}"
    return f"{hostname}:{port}"


class StaticBackends:
    def __init__(self, hostnames: list[str]):
        self.endpoints = sorted({with_port(h) for h in hostnames})

    async def start(self, on_change: Callable[[list[str]], Awaitable[None]]) -> None:
        await on_change(self.endpoints)

    async def stop(self) -> None:
        pass


class DNSBackends:
    def __init__(self, hostname: str, port: int, interval: float, timeout: float, on_resolution=None):
        self.hostname, self.port = hostname, port
        self.interval, self.timeout = interval, timeout
        self.endpoints: list[str] = []
        self._task: asyncio.Task | None = None
        self._on_resolution = on_resolution or (lambda ok: None)

    async def resolve(self) -> list[str] | None:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(self.hostname, self.port, type=socket.SOCK_STREAM), self.timeout
            )
        except (OSError, TimeoutError):
            self._on_resolution(False)
            return None
        self._on_resolution(True)
        addrs = sorted({info[4][0] for info in infos})
        return [f"[{a}]:{self.port}" if ":" in a else f"{a}:{self.port}" for a in addrs]

    async def start(self, on_change: Callable[[list[str]], Awaitable[None]]) -> None:
        first = await self.resolve()
        if first is not None:
            self.endpoints = first
            await on_change(first)

        async def loop():
            while True:
                await asyncio.sleep(self.interval)
                found = await self.resolve()
                # a failed lookup keeps the last good list rather than dropping every backend
                if found is not None and found != self.endpoints:
                    self.endpoints = found
                    await on_change(found)

        self._task = asyncio.create_task(loop(), name=f"dns resolver {self.hostname}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
