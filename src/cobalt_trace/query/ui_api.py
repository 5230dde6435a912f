"""Endpoints the web UI reads, beside the ones in `cobalt.py`.

- `GET /api/cobalt/traces/{id}`: one trace in a compact, column-wise JSON (one list per field,
  strings shared through tables) with its critical path and cluster breakdown; times are ns
  offsets from the trace's start so they stay exact as JavaScript numbers.
- `GET /api/cobalt/traces/{id}/otlp`: the trace as an OTLP/JSON `TracesData` file (download).
- `GET /api/cobalt/search?q=&start=&end=&limit=`: TraceQL search answered with what the results
  list shows (span and error counts, services and clusters touched).
- `GET /api/cobalt/service-graph?start=&end=`: services with their clusters and RED, and the
  call edges between them.
"""

from __future__ import annotations

import asyncio

import orjson

from ..store.api import TraceReader
from ..store.model import KINDS, STATUSES, SearchRequest, SpanRecord
from ..store.traceql import TraceQLError, parse
from ..store.traceql.ast import Attribute
from .cobalt import cluster_of
from .http import HTTPError, Request, Response, json_response
from .jaeger import otlp_json
from .params import int_arg, seconds_arg, trace_id_arg
from .trace_view import cluster_breakdown, critical_path, parent_indexes

__all__ = ["UIAPI", "compact_trace"]

_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
_STATUS_INDEX = {s: i for i, s in enumerate(STATUSES)}
# above this many spans a search result is not fetched whole just to list its clusters
_MAX_SPANS_FOR_CLUSTERS = 20_000
_CLUSTER_ATTR = Attribute("resource", "cluster")


def compact_trace(trace_id: str, spans: list[SpanRecord]) -> dict:
    t0 = min(s.timestamp for s in spans)
    t1 = max(s.timestamp + s.duration for s in spans)
    names: dict[str, int] = {}
    scopes: dict[tuple[str, str], int] = {}
    resources: dict[tuple, int] = {}
    resource_json: list[dict] = []
    by_dict: dict[int, int] = {}  # spans decoded from one ResourceSpans share its dict
    resource_col = []
    for s in spans:
        attrs = s.resource_attributes
        r = by_dict.get(id(attrs))
        if r is None:
            key = (s.service, tuple(attrs.items()))
            r = resources.get(key)
            if r is None:
                r = resources[key] = len(resource_json)
                resource_json.append({"service": s.service, "cluster": cluster_of(s), "attributes": attrs})
            by_dict[id(attrs)] = r
        resource_col.append(r)
    parents = parent_indexes(spans)
    kind_index, status_index = _KIND_INDEX.get, _STATUS_INDEX.get
    cols = {
        "spanID": [s.span_id for s in spans],
        "parentSpanID": [s.parent_span_id for s in spans],
        "parent": parents,
        "name": [names.setdefault(s.name, len(names)) for s in spans],
        "resource": resource_col,
        "scope": [scopes.setdefault((s.scope_name, s.scope_version), len(scopes)) for s in spans],
        "kind": [kind_index(s.kind, 0) for s in spans],
        "status": [status_index(s.status_code, 0) for s in spans],
        "statusMessage": [s.status_message for s in spans],
        "start": [s.timestamp - t0 for s in spans],
        "duration": [s.duration for s in spans],
        "attributes": [s.attributes for s in spans],
        "events": [
            [[e.timestamp - t0, e.name, e.attributes] for e in s.events] if s.events else 0 for s in spans
        ],
        "links": [
            [[ln.trace_id, ln.span_id, ln.attributes] for ln in s.links] if s.links else 0 for s in spans
        ],
    }
    segments = critical_path(spans, parents)
    clusters = [resource_json[r]["cluster"] for r in resource_col]
    return {
        "traceID": trace_id,
        "startUnixNano": str(t0),
        "durationNanos": t1 - t0,
        "spanCount": len(spans),
        "names": list(names),
        "resources": resource_json,
        "scopes": [list(k) for k in scopes],
        "kinds": [k.lower() for k in KINDS],
        "statuses": [s.lower() for s in STATUSES],
        "spans": cols,
        "criticalPath": [[seg.index, seg.start - t0, seg.end - t0, int(seg.waiting)] for seg in segments],
        "clusterPath": cluster_breakdown(spans, segments, parents, clusters),
    }


class UIAPI:
    def __init__(self, reader: TraceReader):
        self.reader = reader

    def routes(self):
        return [
            ("GET", "/api/cobalt/traces/{trace_id}", self.trace),
            ("GET", "/api/cobalt/traces/{trace_id}/otlp", self.trace_otlp),
            ("GET", "/api/cobalt/search", self.search),
            ("GET", "/api/cobalt/service-graph", self.service_graph),
        ]

    async def _spans(self, req: Request) -> tuple[str, list[SpanRecord]]:
        tid = trace_id_arg(req.path_params["trace_id"])
        spans = await asyncio.to_thread(
            self.reader.get_trace, tid, seconds_arg(req, "start"), seconds_arg(req, "end")
        )
        if not spans:
            raise HTTPError(404, f"trace not found: {tid}")
        return tid, spans

    async def trace(self, req: Request) -> Response:
        tid, spans = await self._spans(req)
        body = await asyncio.to_thread(lambda: orjson.dumps(compact_trace(tid, spans)))
        return Response(200, body, "application/json")

    async def trace_otlp(self, req: Request) -> Response:
        tid, spans = await self._spans(req)
        body = await asyncio.to_thread(lambda: orjson.dumps(otlp_json(spans)))
        return Response(
            200,
            body,
            "application/json",
            {"content-disposition": f'attachment; filename="trace-{tid}.json"'},
        )

    async def search(self, req: Request) -> Response:
        text = (req.arg("q") or "").strip() or "{}"
        try:
            query = parse(text)
        except TraceQLError as exc:
            raise HTTPError(400, f"invalid TraceQL query: {exc}") from None
        limit = int_arg(req, "limit", 20, minimum=1)
        if limit > 1000:
            raise HTTPError(400, f"invalid limit {limit}: at most 1000")
        request = SearchRequest(query, seconds_arg(req, "start"), seconds_arg(req, "end"), limit, 0)
        matches = await asyncio.to_thread(self.reader.search, request)
        small = [
            m.trace_id for m in matches if sum(c for c, _ in m.services.values()) <= _MAX_SPANS_FOR_CLUSTERS
        ]
        traces = await asyncio.to_thread(self.reader.get_traces, small) if small else {}
        out = []
        for m in matches:
            spans = traces.get(m.trace_id)
            clusters = sorted({cluster_of(s) for s in spans} - {""}) if spans else None
            out.append(
                {
                    "traceID": m.trace_id,
                    "rootServiceName": m.root_service,
                    "rootName": m.root_name,
                    "startTimeUnixNano": str(m.start),
                    "durationNanos": m.duration,
                    "spanCount": sum(c for c, _ in m.services.values()),
                    "errorCount": sum(e for _, e in m.services.values()),
                    "services": sorted(m.services),
                    "clusters": clusters,
                }
            )
        return json_response({"query": text, "traces": out})

    async def service_graph(self, req: Request) -> Response:
        start, end = seconds_arg(req, "start"), seconds_arg(req, "end")
        edges, red = await asyncio.gather(
            asyncio.to_thread(self.reader.dependencies, start, end),
            asyncio.to_thread(self.reader.red, start, end, None, False),
        )
        clusters_of = await asyncio.to_thread(self._service_clusters, start, end)
        nodes = {}
        for r in red:
            nodes[r.service] = {
                "service": r.service,
                "clusters": sorted(clusters_of.get(r.service, ())),
                "count": r.count,
                "errors": r.errors,
                "ratePerSecond": r.rate_per_s,
                "p50Nanos": r.p50_ns,
                "p90Nanos": r.p90_ns,
                "p99Nanos": r.p99_ns,
            }
        for e in edges:
            for name in (e.parent, e.child):
                nodes.setdefault(
                    name,
                    {"service": name, "clusters": sorted(clusters_of.get(name, ())), "count": 0, "errors": 0},
                )
        window_s = (end - start) / 1e9 if start is not None and end is not None and end > start else None
        return json_response(
            {
                "nodes": sorted(nodes.values(), key=lambda n: n["service"]),
                "edges": [
                    {
                        "parent": e.parent,
                        "child": e.child,
                        "callCount": e.call_count,
                        "errorCount": e.error_count,
                        "ratePerSecond": e.call_count / window_s if window_s else None,
                        "p50Nanos": e.p50_ns,
                        "p95Nanos": e.p95_ns,
                        "p99Nanos": e.p99_ns,
                    }
                    for e in edges
                ],
            }
        )

    def _service_clusters(self, start: int | None, end: int | None) -> dict[str, set[str]]:
        """Which clusters each service runs in, from recent traces of every cluster (the store
        keeps no service→cluster table, so a few searches sample it)."""
        out: dict[str, set[str]] = {}
        for cluster in self.reader.tag_values(_CLUSTER_ATTR, start, end, 50):
            query = parse(f"{{ resource.cluster = {orjson.dumps(cluster).decode()} }}")
            for m in self.reader.search(SearchRequest(query, start, end, 20, 1000)):
                for s in m.spans:
                    out.setdefault(s.service, set()).add(cluster)
        return out
