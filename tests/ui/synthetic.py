"""OpenStack-shaped traces across three clusters, of any size, for the UI tests and bench/ui.py.

A server boot: nova-api (management) → nova-conductor → RPC over the broker to nova-compute
(hypervisor) → neutron and libvirt; consumer spans carry `messaging.cobalt.queue_wait_ms`.
Big traces grow by adding work under nova-compute, a few levels deep.
"""

from __future__ import annotations

import random
import time

from cobalt_trace.store import SpanEvent, SpanRecord

__all__ = ["CLUSTER_OF", "XSS", "build_trace", "records_for_ui"]

CLUSTER_OF = {
    "keystone": "management",
    "nova-api": "management",
    "nova-conductor": "control-plane",
    "nova-scheduler": "control-plane",
    "neutron-server": "control-plane",
    "nova-compute": "hypervisor",
    "libvirt": "hypervisor",
    "neutron-openvswitch-agent": "hypervisor",
}
XSS = "<img src=x onerror=alert(1)>"
MS = 1_000_000


class _Builder:
    def __init__(self, trace_id: str, request_id: str, rng: random.Random):
        self.trace_id, self.request_id, self.rng = trace_id, request_id, rng
        self.spans: list[SpanRecord] = []

    def span(self, service, name, kind, start, dur, parent: SpanRecord | None = None, **attrs) -> SpanRecord:
        attrs = {"openstack.request_id": self.request_id, **{k: str(v) for k, v in attrs.items()}}
        status = attrs.pop("_status", "Unset")
        rec = SpanRecord(
            timestamp=start,
            trace_id=self.trace_id,
            span_id=f"{self.rng.getrandbits(64):016x}",
            parent_span_id=parent.span_id if parent else "",
            name=name,
            kind=kind,
            service=service,
            duration=dur,
            status_code=status,
            status_message="instance failed to spawn" if status == "Error" else "",
            resource_attributes={
                "service.name": service,
                "cluster": CLUSTER_OF.get(service, ""),
                "host.name": f"{'cmp' if CLUSTER_OF.get(service) == 'hypervisor' else 'ctl'}-001",
            },
            scope_name="cobalt_trace_openstack",
            scope_version="0.1.0",
            attributes=attrs,
        )
        self.spans.append(rec)
        return rec


def build_trace(
    n_spans: int = 20,
    seed: int = 1,
    start_ns: int | None = None,
    trace_id: str | None = None,
    request_id: str | None = None,
    error: bool = False,
    evil: str | None = None,
) -> list[SpanRecord]:
    """One server-boot trace with at least ~16 spans, padded to `n_spans`."""
    rng = random.Random(seed)
    trace_id = trace_id or f"{rng.getrandbits(128):032x}"
    request_id = request_id or f"req-{rng.getrandbits(32):08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
    t0 = start_ns if start_ns is not None else time.time_ns() - 60 * 10**9
    b = _Builder(trace_id, request_id, rng)
    extra = {"cobalt.note": evil} if evil else {}
    root = b.span(
        "nova-api",
        "POST /v2.1/servers",
        "Server",
        t0,
        900 * MS,
        **{"http.request.method": "POST", "http.route": "/v2.1/servers", "http.response.status_code": 202},
        **extra,
    )
    root.events.append(SpanEvent(t0 + 5 * MS, "request.validated", {"validator": "jsonschema"}))
    if evil:  # untrusted text in a span name, an event and a resource attribute too
        b.span("nova-api", evil, "Internal", t0 + 1 * MS, 1 * MS, root).resource_attributes["cobalt.evil"] = (
            evil
        )
        root.events.append(SpanEvent(t0 + 6 * MS, evil, {evil: evil}))
    b.span("keystone", "POST /v3/auth/tokens", "Server", t0 + 2 * MS, 18 * MS, root)
    b.span(
        "nova-api", "db create instance", "Client", t0 + 22 * MS, 9 * MS, root, **{"db.system.name": "mysql"}
    )
    send = b.span(
        "nova-api",
        "build_instances send",
        "Producer",
        t0 + 33 * MS,
        2 * MS,
        root,
        **{"messaging.system": "rabbitmq", "messaging.destination.name": "conductor"},
    )
    cond = b.span(
        "nova-conductor",
        "build_instances process",
        "Consumer",
        t0 + 41 * MS,
        820 * MS,
        send,
        **{"messaging.system": "rabbitmq", "messaging.cobalt.queue_wait_ms": 6.5},
    )
    b.span("nova-scheduler", "select_destinations", "Server", t0 + 45 * MS, 60 * MS, cond)
    cast = b.span(
        "nova-conductor",
        "build_and_run_instance send",
        "Producer",
        t0 + 110 * MS,
        3 * MS,
        cond,
        **{"messaging.system": "rabbitmq", "messaging.destination.name": "compute.cmp-001"},
    )
    compute = b.span(
        "nova-compute",
        "build_and_run_instance process",
        "Consumer",
        t0 + 122 * MS,
        730 * MS,
        cast,
        **{"messaging.system": "rabbitmq", "messaging.cobalt.queue_wait_ms": 9.25},
        **({"_status": "Error"} if error else {}),
    )
    port = b.span("nova-compute", "POST /v2.0/ports", "Client", t0 + 130 * MS, 80 * MS, compute)
    neutron = b.span("neutron-server", "POST /v2.0/ports", "Server", t0 + 132 * MS, 75 * MS, port)
    b.span("neutron-server", "db create port", "Client", t0 + 140 * MS, 12 * MS, neutron)
    b.span("neutron-openvswitch-agent", "ovs port binding", "Internal", t0 + 160 * MS, 30 * MS, neutron)
    spawn = b.span(
        "libvirt",
        "spawn",
        "Internal",
        t0 + 215 * MS,
        600 * MS,
        compute,
        **({"_status": "Error"} if error else {}),
    )
    b.span("libvirt", "define domain", "Internal", t0 + 220 * MS, 40 * MS, spawn)
    b.span("libvirt", "start domain", "Internal", t0 + 270 * MS, 520 * MS, spawn)
    b.span("nova-compute", "db update instance", "Client", t0 + 820 * MS, 15 * MS, compute)
    # padding: image download chunks under nova-compute, nested in groups of 50
    group = None
    k = 0
    while len(b.spans) < n_spans:
        if k % 50 == 0:
            group = b.span(
                "nova-compute",
                f"image chunk group {k // 50}",
                "Internal",
                t0 + 300 * MS + (k // 50) % 400 * MS,
                100 * MS,
                compute,
            )
        b.span(
            "nova-compute",
            "read image chunk",
            "Internal",
            group.timestamp + (k % 50) * 2 * MS,
            1 * MS + k % 7 * 100_000,
            group,
            **{"image.chunk": k, "thread.id": k % 16},
        )
        k += 1
    return b.spans


def records_for_ui(now_ns: int | None = None) -> dict:
    """A small data set for the end-to-end tests: ordinary traces, one failing, one with span
    data that tries to be HTML, and a request whose context was lost (two traces, one id)."""
    now = now_ns or time.time_ns()
    spans: list[SpanRecord] = []
    for i in range(12):
        spans += build_trace(20, seed=100 + i, start_ns=now - (i + 2) * 60 * 10**9)
    failing = build_trace(20, seed=7, start_ns=now - 30 * 10**9, error=True)
    evil = build_trace(18, seed=8, start_ns=now - 20 * 10**9, evil=XSS)
    lost_id = "req-0b7e3f2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b"
    first = build_trace(16, seed=9, start_ns=now - 15 * 10**9, request_id=lost_id)
    second = build_trace(16, seed=10, start_ns=now - 14 * 10**9, request_id=lost_id)
    big = build_trace(2000, seed=11, start_ns=now - 10 * 10**9)
    spans += failing + evil + first + second + big
    return {
        "spans": spans,
        "failing": failing[0].trace_id,
        "evil": evil[0].trace_id,
        "lost_request_id": lost_id,
        "lost_traces": [first[0].trace_id, second[0].trace_id],
        "big": big[0].trace_id,
    }
