"""What one service process shares between its API handlers and RPC endpoints."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import requests

from ..topology import Topology
from . import rpc

__all__ = ["Runtime", "FAULT_HEADER", "SERVICE_TOKEN", "current", "install"]

# The caller marks a flow for a simulated fault; services pass it on in headers and RPC arguments.
FAULT_HEADER = "X-Demo-Fault"
# What keystonemiddleware's service user would present; keystone accepts it for validations.
SERVICE_TOKEN = "demo-service-token"


@dataclass
class Runtime:
    name: str
    topology: Topology
    transport: object = None
    notification_transport: object = None
    rng: random.Random = field(default_factory=random.Random)
    _clients: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def api(self, service: str) -> str:
        return self.topology.apis[service]

    def client(self, topic: str, server: str | None = None, fanout: bool = False):
        key = (topic, server, fanout)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = rpc.rpc_client(self.transport, topic, server, fanout)
            return self._clients[key]

    def work(self, low_ms: float, high_ms: float) -> None:
        """Time spent in a database, libvirt or OVS, simulated."""
        time.sleep(self.rng.uniform(low_ms, high_ms) / 1000.0)

    def http(
        self, method: str, service: str, path: str, token: str | None, fault: str = "", headers=None, **kwargs
    ):
        """An HTTP call to another service's API (traced by the requests instrumentation)."""
        headers = {"X-Auth-Token": token or SERVICE_TOKEN, "Accept": "application/json", **(headers or {})}
        if fault:
            headers[FAULT_HEADER] = fault
        return requests.request(method, self.api(service) + path, headers=headers, timeout=30, **kwargs)


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no demo service runtime installed in this process")
    return _current
