"""Test helpers shared by the suite: free ports, test certificates, `cobalt-trace collector` processes.

A module with its own name (not `conftest`), because `instrumentation/tests` has a conftest too and
test modules must import these helpers unambiguously."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from cobalt_trace.demo.certs import CertPaths, issue_cert, make_ca

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening after {timeout}s")


class Pki:
    """A CA plus server/client certificates for 127.0.0.1, made in a temp dir."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.ca = make_ca(directory, "cobalt-trace test CA")
        self.server = issue_cert(self.ca, directory, "server", ["127.0.0.1", "localhost"])
        self.client = issue_cert(self.ca, directory, "client", ["client"], client=True)

    def leaf(self, name: str, hosts: list[str], client: bool = False) -> CertPaths:
        return issue_cert(self.ca, self.dir, name, hosts, client=client)


class CollectorProcess:
    """`cobalt-trace collector` in a subprocess; stopped with SIGTERM like a pod."""

    def __init__(self, config: Path, log: Path, env: dict | None = None):
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cobalt_trace.cli.main", "collector", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            env={**os.environ, **(env or {})},
        )

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_query_server(store):
    """A `QueryServer` over `store` on an ephemeral port, on its own loop thread; yields its URL."""
    from cobalt_trace.query.server import QueryServer

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = QueryServer(store, "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
