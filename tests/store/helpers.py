"""Synthetic OpenStack spans for store and query tests (the load generator's shapes)."""

from __future__ import annotations

import time

from cobalt_trace.loadgen.openstack import TraceFactory, build_request
from cobalt_trace.store import SpanRecord, decode_batch
from cobalt_trace.wire.batch import SpanBatch

NOW = time.time_ns()


def make_batch(traces: int = 60, seed: int = 7, now_ns: int = NOW, spacing_s: float = 20.0) -> SpanBatch:
    factory = TraceFactory(seed=seed, error_rate=0.1, slow_rate=0.1)
    spans = []
    for i in range(traces):
        spans += factory.trace(now_ns - int(i * spacing_s * 1e9))
    return SpanBatch(data=build_request(spans).SerializeToString())


def make_records(
    traces: int = 60, seed: int = 7, now_ns: int = NOW, spacing_s: float = 20.0
) -> list[SpanRecord]:
    return decode_batch(make_batch(traces, seed, now_ns, spacing_s))


def span(trace: str, sid: str, parent: str = "", name: str = "op", service: str = "svc", **kw) -> SpanRecord:
    base = dict(timestamp=NOW, duration=1_000_000, kind="Server")
    base.update(kw)
    return SpanRecord(
        trace_id=trace.rjust(32, "0"),
        span_id=sid.rjust(16, "0"),
        parent_span_id=parent.rjust(16, "0") if parent else "",
        name=name,
        service=service,
        resource_attributes=kw.pop("resource_attributes", None) or {"service.name": service},
        **{k: v for k, v in base.items() if k != "resource_attributes"},
    )
