"""The Jaeger query API: v1 JSON (Jaeger UI, Grafana's Jaeger data source) and api_v3.

v1 answers `{"data": ..., "total", "limit", "offset", "errors"}`; errors put
`{"code", "msg"}` in `errors`.  Jaeger's search matches one span against every condition
(service, operation, tags on the span or its process, span duration); we turn it into that
single TraceQL spanset filter.  `error=true` in tags means status error, as Jaeger UI users write it.
"""

from __future__ import annotations

import asyncio
import base64

import orjson
from google.protobuf.json_format import MessageToDict

from ..store.api import TraceReader
from ..store.encode import records_to_traces_data
from ..store.model import SearchRequest, SpanRecord
from ..store.traceql import Query
from ..store.traceql.ast import Attribute, Comparison, Filter, Intrinsic, Literal
from .http import HTTPError, Request, Response, json_response
from .params import (
    conjunction,
    duration_arg,
    duration_ns,
    eq,
    int_arg,
    micros_arg,
    millis_arg,
    now_ns,
    parse_logfmt,
    rfc3339_arg,
    trace_id_arg,
)

__all__ = ["JaegerAPI", "jaeger_error", "to_jaeger_trace"]


def jaeger_error(status: int, message: str) -> Response:
    body = {"data": None, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": status, "msg": message}]}
    return Response(status, orjson.dumps(body), "application/json")


def v3_error(status: int, message: str) -> Response:
    return Response(
        status, orjson.dumps({"error": {"httpCode": status, "message": message}}), "application/json"
    )


def _envelope(data) -> Response:
    total = len(data) if isinstance(data, list) else 0
    return json_response({"data": data, "total": total, "limit": 0, "offset": 0, "errors": None})


class JaegerAPI:
    def __init__(self, reader: TraceReader):
        self.reader = reader

    def routes(self):
        v1 = jaeger_error
        return [
            ("GET", "/api/services", self.services, v1),
            ("GET", "/api/services/{service}/operations", self.service_operations, v1),
            ("GET", "/api/operations", self.operations, v1),
            ("GET", "/api/traces", self.search, v1),
            ("GET", "/api/dependencies", self.dependencies, v1),
            ("GET", "/api/v3/services", self.v3_services, v3_error),
            ("GET", "/api/v3/operations", self.v3_operations, v3_error),
            ("GET", "/api/v3/traces", self.v3_search, v3_error),
            ("GET", "/api/v3/traces/{trace_id}", self.v3_trace, v3_error),
        ]

    # -- v1 -------------------------------------------------------------------------------------
    async def services(self, req: Request) -> Response:
        return _envelope(await asyncio.to_thread(self.reader.services))

    async def service_operations(self, req: Request) -> Response:
        ops = await asyncio.to_thread(self.reader.operations, req.path_params["service"])
        return _envelope(sorted({name for name, _ in ops}))

    async def operations(self, req: Request) -> Response:
        service = req.arg("service")
        if not service:
            raise HTTPError(400, "parameter 'service' is required")
        kind = (req.arg("spanKind") or "").lower()
        ops = await asyncio.to_thread(self.reader.operations, service)
        data = [{"name": n, "spanKind": k.lower()} for n, k in ops if not kind or k.lower() == kind]
        return _envelope(data)

    async def trace(self, req: Request) -> Response:
        tid = trace_id_arg(req.path_params["trace_id"])
        spans = await asyncio.to_thread(
            self.reader.get_trace, tid, micros_arg(req, "start"), micros_arg(req, "end")
        )
        if not spans:
            raise HTTPError(404, "trace not found")
        return _envelope([to_jaeger_trace(spans)])

    async def search(self, req: Request) -> Response:
        service = req.arg("service")
        if not service:
            raise HTTPError(400, "parameter 'service' is required")
        tags = {}
        for raw in req.args("tags"):
            tags.update(parse_logfmt(raw))
        for raw in req.args("tag"):
            key, sep, value = raw.partition(":")
            if not sep or not key:
                raise HTTPError(400, f"malformed 'tag' parameter {raw!r}, expected key:value")
            tags[key] = value
        end = micros_arg(req, "end") or now_ns()
        start = micros_arg(req, "start")
        lookback = req.arg("lookback")
        if start is None and lookback and lookback != "custom":
            try:
                start = end - duration_ns(lookback)
            except ValueError:
                raise HTTPError(
                    400, f"invalid lookback {lookback!r}: expected a duration such as 1h"
                ) from None
        query = _jaeger_query(
            service,
            req.arg("operation") or "",
            tags,
            duration_arg(req, "minDuration"),
            duration_arg(req, "maxDuration"),
        )
        limit = int_arg(req, "limit", 20, minimum=0) or 20
        matches = await asyncio.to_thread(self.reader.search, SearchRequest(query, start, end, limit, 0))
        traces = await asyncio.to_thread(self.reader.get_traces, [m.trace_id for m in matches])
        return _envelope([to_jaeger_trace(traces[m.trace_id]) for m in matches if m.trace_id in traces])

    async def dependencies(self, req: Request) -> Response:
        end = millis_arg(req, "endTs") or now_ns()
        lookback = millis_arg(req, "lookback")
        start = end - lookback if lookback else end - 24 * 3600 * 10**9
        edges = await asyncio.to_thread(self.reader.dependencies, start, end)
        return _envelope([{"parent": e.parent, "child": e.child, "callCount": e.call_count} for e in edges])

    # -- api_v3 ---------------------------------------------------------------------------------
    async def v3_services(self, req: Request) -> Response:
        return json_response({"services": await asyncio.to_thread(self.reader.services)})

    async def v3_operations(self, req: Request) -> Response:
        service = req.arg("service")
        if not service:
            raise HTTPError(400, "parameter 'service' is required")
        kind = (req.arg("span_kind") or req.arg("spanKind") or "").lower()
        ops = await asyncio.to_thread(self.reader.operations, service)
        return json_response(
            {
                "operations": [
                    {"name": n, "spanKind": k.lower()} for n, k in ops if not kind or k.lower() == kind
                ]
            }
        )

    async def v3_trace(self, req: Request) -> Response:
        tid = trace_id_arg(req.path_params["trace_id"])
        start, end = rfc3339_arg(req, "start_time"), rfc3339_arg(req, "end_time")
        spans = await asyncio.to_thread(self.reader.get_trace, tid, start, end)
        if not spans:
            raise HTTPError(404, "trace not found")
        return json_response({"result": otlp_json(spans)})

    async def v3_search(self, req: Request) -> Response:
        service = req.arg("query.service_name")
        if not service:
            raise HTTPError(400, "parameter 'query.service_name' is required")
        attrs = {}
        for raw in req.args("query.attributes"):
            attrs.update(parse_logfmt(raw, "query.attributes"))
        query = _jaeger_query(
            service,
            req.arg("query.operation_name") or "",
            attrs,
            duration_arg(req, "query.duration_min"),
            duration_arg(req, "query.duration_max"),
        )
        limit = int_arg(req, "query.num_traces", 20, minimum=0) or 20
        start, end = rfc3339_arg(req, "query.start_time_min"), rfc3339_arg(req, "query.start_time_max")
        matches = await asyncio.to_thread(self.reader.search, SearchRequest(query, start, end, limit, 0))
        traces = await asyncio.to_thread(self.reader.get_traces, [m.trace_id for m in matches])
        spans = [s for m in matches for s in traces.get(m.trace_id, [])]
        return json_response({"result": otlp_json(spans)})


def _jaeger_query(service: str, operation: str, tags: dict[str, str], min_d, max_d) -> Query:
    conds = [eq(Attribute("resource", "service.name"), service)]
    if operation:
        conds.append(eq(Intrinsic("name"), operation))
    for key, value in tags.items():
        if key == "error" and value in ("true", "false"):
            op = "=" if value == "true" else "!="
            conds.append(Comparison(Intrinsic("status"), op, Literal("status", "error")))
        else:
            conds.append(eq(Attribute("", key), value))
    if min_d is not None:
        conds.append(Comparison(Intrinsic("duration"), ">=", Literal("duration", min_d)))
    if max_d is not None:
        conds.append(Comparison(Intrinsic("duration"), "<=", Literal("duration", max_d)))
    return Query(Filter(conjunction(conds)))


def _tags(attrs: dict[str, str]) -> list[dict]:
    return [{"key": k, "type": "string", "value": v} for k, v in attrs.items()]


def to_jaeger_trace(spans: list[SpanRecord]) -> dict:
    """Jaeger's JSON model (`model/json`): spans with references, processes by id."""
    processes: dict[tuple, str] = {}
    process_json: dict[str, dict] = {}
    out = []
    for s in spans:
        key = (s.service, tuple(sorted(s.resource_attributes.items())))
        pid = processes.get(key)
        if pid is None:
            pid = processes[key] = f"p{len(processes) + 1}"
            res = {k: v for k, v in s.resource_attributes.items() if k != "service.name"}
            process_json[pid] = {"serviceName": s.service, "tags": _tags(res)}
        refs = []
        if s.parent_span_id:
            refs.append({"refType": "CHILD_OF", "traceID": s.trace_id, "spanID": s.parent_span_id})
        refs += [{"refType": "FOLLOWS_FROM", "traceID": ln.trace_id, "spanID": ln.span_id} for ln in s.links]
        tags = _tags(s.attributes)
        if s.kind != "Unspecified":
            tags.append({"key": "span.kind", "type": "string", "value": s.kind.lower()})
        if s.status_code == "Error":
            tags.append({"key": "error", "type": "bool", "value": True})
        if s.status_code != "Unset":
            tags.append({"key": "otel.status_code", "type": "string", "value": s.status_code.upper()})
        if s.status_message:
            tags.append({"key": "otel.status_description", "type": "string", "value": s.status_message})
        if s.scope_name:
            tags.append({"key": "otel.scope.name", "type": "string", "value": s.scope_name})
        logs = [
            {
                "timestamp": e.timestamp // 1000,
                "fields": [{"key": "event", "type": "string", "value": e.name}, *_tags(e.attributes)],
            }
            for e in s.events
        ]
        out.append(
            {
                "traceID": s.trace_id,
                "spanID": s.span_id,
                "operationName": s.name,
                "references": refs,
                "startTime": s.timestamp // 1000,
                "duration": s.duration // 1000,
                "tags": tags,
                "logs": logs,
                "processID": pid,
                "warnings": None,
                "flags": 1,
            }
        )
    return {
        "traceID": spans[0].trace_id if spans else "",
        "spans": out,
        "processes": process_json,
        "warnings": None,
    }


def otlp_json(spans: list[SpanRecord]) -> dict:
    """OTLP/JSON `TracesData` with hex ids (the OTLP JSON mapping, as api_v3 answers)."""
    data = MessageToDict(records_to_traces_data(spans))
    for rs in data.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
                for link in span.get("links", []):
                    for key in ("traceId", "spanId"):
                        if key in link:
                            link[key] = base64.b64decode(link[key]).hex()
    return data
