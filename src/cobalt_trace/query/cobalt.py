"""Our own endpoints for the web UI: request-id stitching, cluster paths, dependencies, RED.

Times in query strings are Unix seconds (as Tempo's); times in answers are ns as strings, and
durations ns as integers.  A span's cluster is its resource's `cluster` or `k8s.cluster.name`.
"""

from __future__ import annotations

import asyncio

from ..store.api import TraceReader
from ..store.model import SpanRecord
from .http import HTTPError, Request, Response, json_response
from .params import seconds_arg, trace_id_arg

__all__ = ["CobaltAPI", "cluster_of", "cluster_path"]

_CLUSTER_KEYS = ("cluster", "k8s.cluster.name")


def cluster_of(span: SpanRecord) -> str:
    for key in _CLUSTER_KEYS:
        value = span.resource_attributes.get(key)
        if value:
            return value
    return ""


def _span_json(s: SpanRecord) -> dict:
    return {
        "traceID": s.trace_id,
        "spanID": s.span_id,
        "parentSpanID": s.parent_span_id,
        "service": s.service,
        "cluster": cluster_of(s),
        "name": s.name,
        "kind": s.kind.lower(),
        "startTimeUnixNano": str(s.timestamp),
        "durationNanos": s.duration,
        "status": s.status_code.lower(),
    }


def cluster_path(spans: list[SpanRecord]) -> dict:
    """Clusters in the order the trace enters them, and every parent→child call that crosses
    clusters with its hop latency (child start − parent start) and the child's duration."""
    by_id = {s.span_id: s for s in spans}
    ordered = sorted(spans, key=lambda s: s.timestamp)
    path: list[str] = []
    for s in ordered:
        c = cluster_of(s)
        if c and (not path or path[-1] != c):
            path.append(c)
    hops = []
    for s in ordered:
        parent = by_id.get(s.parent_span_id)
        if parent is not None and cluster_of(parent) != cluster_of(s):
            hops.append(
                {
                    "fromCluster": cluster_of(parent),
                    "toCluster": cluster_of(s),
                    "fromService": parent.service,
                    "toService": s.service,
                    "fromSpanID": parent.span_id,
                    "toSpanID": s.span_id,
                    "latencyNanos": s.timestamp - parent.timestamp,
                    "durationNanos": s.duration,
                }
            )
    return {"clusters": path, "hops": hops}


class CobaltAPI:
    def __init__(self, reader: TraceReader):
        self.reader = reader

    def routes(self):
        return [
            ("GET", "/api/cobalt/requests/{request_id}", self.request),
            ("GET", "/api/cobalt/traces/{trace_id}/path", self.path),
            ("GET", "/api/cobalt/dependencies", self.dependencies),
            ("GET", "/api/cobalt/red", self.red),
        ]

    async def request(self, req: Request) -> Response:
        rid = req.path_params["request_id"].strip()
        if not rid or len(rid) > 256:
            raise HTTPError(400, f"invalid request id {rid!r}")
        spans = await asyncio.to_thread(
            self.reader.find_by_request_id, rid, seconds_arg(req, "start"), seconds_arg(req, "end")
        )
        if not spans:
            raise HTTPError(404, f"no trace carries request id {rid}")
        traces: dict[str, list[SpanRecord]] = {}
        for s in spans:
            traces.setdefault(s.trace_id, []).append(s)
        summaries = []
        for tid, items in traces.items():
            root = next((s for s in items if s.is_root), items[0])
            start = min(s.timestamp for s in items)
            summaries.append(
                {
                    "traceID": tid,
                    "rootServiceName": root.service if root.is_root else "",
                    "rootName": root.name if root.is_root else "",
                    "startTimeUnixNano": str(start),
                    "durationNanos": max(s.end for s in items) - start,
                    "spanCount": len(items),
                    **cluster_path(items),
                }
            )
        summaries.sort(key=lambda t: int(t["startTimeUnixNano"]))
        return json_response({"requestId": rid, "traces": summaries, "spans": [_span_json(s) for s in spans]})

    async def path(self, req: Request) -> Response:
        tid = trace_id_arg(req.path_params["trace_id"])
        spans = await asyncio.to_thread(self.reader.get_trace, tid)
        if not spans:
            raise HTTPError(404, f"trace not found: {tid}")
        return json_response({"traceID": tid, **cluster_path(spans)})

    async def dependencies(self, req: Request) -> Response:
        edges = await asyncio.to_thread(
            self.reader.dependencies, seconds_arg(req, "start"), seconds_arg(req, "end")
        )
        return json_response(
            {
                "edges": [
                    {
                        "parent": e.parent,
                        "child": e.child,
                        "callCount": e.call_count,
                        "errorCount": e.error_count,
                        "p50Nanos": e.p50_ns,
                        "p95Nanos": e.p95_ns,
                        "p99Nanos": e.p99_ns,
                    }
                    for e in edges
                ]
            }
        )

    async def red(self, req: Request) -> Response:
        by = req.arg("by") or "operation"
        if by not in ("operation", "service"):
            raise HTTPError(400, f"invalid by {by!r}: expected operation or service")
        rows = await asyncio.to_thread(
            self.reader.red,
            seconds_arg(req, "start"),
            seconds_arg(req, "end"),
            req.arg("service"),
            by == "operation",
        )
        return json_response(
            {
                "rows": [
                    {
                        "service": r.service,
                        "operation": r.operation,
                        "count": r.count,
                        "errors": r.errors,
                        "ratePerSecond": r.rate_per_s,
                        "p50Nanos": r.p50_ns,
                        "p90Nanos": r.p90_ns,
                        "p99Nanos": r.p99_ns,
                    }
                    for r in rows
                ]
            }
        )
