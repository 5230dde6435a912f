"""A Greenhouse-like caller in the management cluster: drives the cloud's APIs over HTTP with
realistic flows, each the root of one trace, and logs every flow as a JSON line (trace id, request
ids, the fault it asked for, the answer) so the demo and its test know what to look for."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from cobalt_trace_openstack import trace

from .runtime import Runtime

__all__ = ["Caller", "FLOWS", "choose_fault"]

FLOWS = ("server_boot", "volume_attach", "image_upload", "port_create", "server_delete")
_WEIGHTS = (0.3, 0.15, 0.2, 0.2, 0.15)
# The fault each flow uses for "error": a 5xx for most, an RPC timeout for volume attach.
_ERROR_FAULT = {"volume_attach": "timeout"}
# So that an error and a slow trace are on screen within seconds, whatever the rates.
_FORCED = {2: "error", 4: "slow"}


def choose_fault(rng, index: int, flow: str, error_rate: float, slow_rate: float) -> str:
    kind = _FORCED.get(index)
    if kind is None:
        x = rng.random()
        kind = "error" if x < error_rate else "slow" if x < error_rate + slow_rate else ""
    return _ERROR_FAULT.get(flow, kind) if kind == "error" else kind


class Caller:
    def __init__(self, rt: Runtime, stop: threading.Event, concurrency: int = 16):
        self.rt = rt
        self.stop = stop
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="flow")
        self.servers: list[str] = []  # booted, not yet deleted
        self.lock = threading.Lock()
        self.log = open(rt.topology.workload_log, "a", buffering=1) if rt.topology.workload_log else None  # noqa: SIM115
        self.token = ""

    def login(self) -> None:
        body = {"auth": {"identity": {"methods": ["password"]}, "scope": {"project": {"name": "greenhouse"}}}}
        with trace("greenhouse.login", root=True):
            resp = self.rt.http("POST", "keystone", "/v3/auth/tokens", None, json=body)
        resp.raise_for_status()
        self.token = resp.headers["X-Subject-Token"]

    def run(self) -> None:
        topo, rng = self.rt.topology, self.rt.rng
        interval = 1.0 / topo.rate if topo.rate > 0 else 1.0
        next_at, index = time.monotonic(), 0
        while not self.stop.is_set():
            index += 1
            flow = rng.choices(FLOWS, _WEIGHTS)[0]
            with self.lock:
                if flow == "server_delete" and not self.servers:
                    flow = "server_boot"
            fault = choose_fault(rng, index, flow, topo.error_rate, topo.slow_rate)
            self.pool.submit(self._run_flow, index, flow, fault)
            next_at += interval * rng.uniform(0.5, 1.5)
            self.stop.wait(max(0.0, next_at - time.monotonic()))
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.log:
            self.log.close()

    def _run_flow(self, index: int, flow: str, fault: str) -> None:
        global_id = f"req-{uuid.uuid4()}"
        started = time.time()
        record = {"index": index, "flow": flow, "fault": fault, "global_request_id": global_id}
        try:
            with trace(
                f"greenhouse {flow}", root=True, attributes={"demo.flow": flow, "demo.fault": fault}
            ) as span:
                ctx = span.get_span_context()
                record["trace_id"] = f"{ctx.trace_id:032x}"
                resp = getattr(self, "_" + flow)(global_id, fault)
            record["status"] = resp.status_code
            record["request_id"] = resp.headers.get("x-openstack-request-id", "")
        except Exception as exc:  # the demo goes on; the log says what happened
            record["status"] = 0
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["started"] = started
        record["seconds"] = round(time.time() - started, 3)
        if self.log:
            with self.lock:
                self.log.write(json.dumps(record) + "\n")

    def _call(self, method, service, path, global_id, fault, **kwargs):
        headers = {"X-OpenStack-Request-Id": global_id, "User-Agent": "greenhouse/1.0"}
        return self.rt.http(method, service, path, self.token, fault, headers=headers, **kwargs)

    def _server_boot(self, gid, fault):
        body = {"server": {"name": "web-1", "imageRef": str(uuid.uuid4()), "flavorRef": "m1.small"}}
        resp = self._call("POST", "nova-api", "/v2.1/servers", gid, fault, json=body)
        if resp.status_code == 202:
            with self.lock:
                self.servers.append(resp.json()["server"]["id"])
        return resp

    def _server_delete(self, gid, fault):
        with self.lock:
            server = self.servers.pop(0) if self.servers else str(uuid.uuid4())
        return self._call("DELETE", "nova-api", f"/v2.1/servers/{server}", gid, fault)

    def _volume_attach(self, gid, fault):
        with self.lock:
            server = self.servers[-1] if self.servers else str(uuid.uuid4())
        body = {"volumeAttachment": {"volumeId": str(uuid.uuid4())}}
        return self._call(
            "POST", "nova-api", f"/v2.1/servers/{server}/os-volume_attachments", gid, fault, json=body
        )

    def _image_upload(self, gid, fault):
        resp = self._call(
            "POST", "glance-api", "/v2/images", gid, "", json={"name": "ubuntu-24.04", "disk_format": "qcow2"}
        )
        if resp.status_code != 201:
            return resp
        image = resp.json()["id"]
        return self._call("PUT", "glance-api", f"/v2/images/{image}/file", gid, fault, data=b"\0" * 65536)

    def _port_create(self, gid, fault):
        body = {"port": {"network_id": str(uuid.uuid4()), "name": "lb-vip"}}
        return self._call("POST", "neutron-server", "/v2.0/ports", gid, fault, json=body)
