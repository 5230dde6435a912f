"""The Tempo HTTP API as Grafana's Tempo data source calls it.

Trace by id answers protobuf for `Accept: application/protobuf` (the data source's backend asks
for that): `/api/v2/traces/{id}` a `TraceByIDResponse` (the trace in field 1), `/api/traces/{id}`
a bare `Trace` — both OTLP `TracesData`-compatible.  JSON otherwise (`{"trace": {...}}` for v2,
`{"batches": [...]}` for v1).  Errors are plain text, as Tempo's.
"""

from __future__ import annotations

import asyncio

from google.protobuf.json_format import MessageToDict

from .. import __version__
from ..store.api import TraceReader
from ..store.encode import records_to_traces_data
from ..store.model import SearchRequest, TraceMatch
from ..store.traceql import Query, TraceQLError, parse
from ..store.traceql.ast import Comparison, Filter, Intrinsic, Literal
from .http import HTTPError, Request, Response, json_response, text_response
from .params import (
    conjunction,
    duration_arg,
    eq,
    int_arg,
    parse_logfmt,
    parse_tag_name,
    seconds_arg,
    trace_id_arg,
)

__all__ = ["TempoAPI", "PROTOBUF"]

PROTOBUF = "application/protobuf"
_INTRINSIC_TAGS = [
    "duration",
    "kind",
    "name",
    "rootName",
    "rootServiceName",
    "status",
    "statusMessage",
    "traceDuration",
]
_KEYWORD_TAGS = {"status", "kind"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class TempoAPI:
    def __init__(self, reader: TraceReader):
        self.reader = reader

    def routes(self):
        return [
            ("GET", "/api/echo", self.echo),
            ("GET", "/ready", self.ready),
            ("GET", "/api/status/buildinfo", self.buildinfo),
            ("GET", "/api/v2/traces/{trace_id}", self.trace_v2),
            ("GET", "/api/search", self.search),
            ("GET", "/api/search/tags", self.tags_v1),
            ("GET", "/api/v2/search/tags", self.tags_v2),
            ("GET", "/api/search/tag/{tag}/values", self.tag_values_v1),
            ("GET", "/api/v2/search/tag/{tag}/values", self.tag_values_v2),
        ]

    async def echo(self, req: Request) -> Response:
        return text_response("echo")

    async def ready(self, req: Request) -> Response:
        return text_response("ready")

    async def buildinfo(self, req: Request) -> Response:
        # Grafana gates features on Tempo's version; we serve the Tempo 2.x API surface
        return json_response(
            {
                "version": "2.8.0",
                "revision": f"cobalt-trace-{__version__}",
                "branch": "main",
                "buildUser": "cobalt-trace",
                "buildDate": "",
                "goVersion": "python",
            }
        )

    # -- trace by id ----------------------------------------------------------------------------
    async def _trace_data(self, req: Request):
        tid = trace_id_arg(req.path_params["trace_id"])
        start, end = seconds_arg(req, "start"), seconds_arg(req, "end")
        spans = await asyncio.to_thread(self.reader.get_trace, tid, start, end)
        if not spans:
            raise HTTPError(404, f"trace not found: {tid}")
        return records_to_traces_data(spans)

    async def trace_v2(self, req: Request) -> Response:
        data = await self._trace_data(req)
        if req.accepts(PROTOBUF):
            body = data.SerializeToString()
            return Response(200, b"\x0a" + _varint(len(body)) + body, PROTOBUF)
        return json_response({"trace": MessageToDict(data), "status": "complete"})

    async def trace_v1(self, req: Request) -> Response:
        data = await self._trace_data(req)
        if req.accepts(PROTOBUF):
            return Response(200, data.SerializeToString(), PROTOBUF)
        return json_response({"batches": MessageToDict(data).get("resourceSpans", [])})

    # -- search ---------------------------------------------------------------------------------
    def _search_query(self, req: Request) -> Query:
        q = (req.arg("q") or "").strip()
        tags = parse_logfmt(req.arg("tags") or "")
        min_d, max_d = duration_arg(req, "minDuration"), duration_arg(req, "maxDuration")
        if q:
            if tags or min_d is not None or max_d is not None:
                raise HTTPError(
                    400, "invalid search: q cannot be combined with tags, minDuration or maxDuration"
                )
            try:
                return parse(q)
            except TraceQLError as exc:
                raise HTTPError(400, f"invalid TraceQL query: {exc}") from None
        conds = []
        for key, value in tags.items():
            fld = parse_tag_name(key) if key in ("name", "status") else parse_tag_name("." + key)
            if isinstance(fld, Intrinsic) and fld.name == "status":
                if value not in ("error", "ok", "unset"):
                    raise HTTPError(400, f"invalid tags: status must be error, ok or unset, got {value!r}")
                conds.append(Comparison(fld, "=", Literal("status", value)))
            else:
                conds.append(eq(fld, value))
        # Tempo's tag search bounds the trace's duration
        if min_d is not None:
            conds.append(Comparison(Intrinsic("traceDuration"), ">=", Literal("duration", min_d)))
        if max_d is not None:
            conds.append(Comparison(Intrinsic("traceDuration"), "<=", Literal("duration", max_d)))
        return Query(Filter(conjunction(conds)))

    async def search(self, req: Request) -> Response:
        query = self._search_query(req)
        request = SearchRequest(
            query,
            seconds_arg(req, "start"),
            seconds_arg(req, "end"),
            limit=int_arg(req, "limit", 20, minimum=1),
            spans_per_spanset=int_arg(req, "spss", 3, minimum=0),
        )
        matches = await asyncio.to_thread(self.reader.search, request)
        return json_response(
            {
                "traces": [_trace_json(m) for m in matches],
                "metrics": {
                    "inspectedTraces": len(matches),
                    "inspectedBytes": "0",
                    "completedJobs": 1,
                    "totalJobs": 1,
                },
            }
        )

    # -- tags -----------------------------------------------------------------------------------
    async def _tag_names(self, req: Request) -> dict[str, list[str]]:
        start, end = seconds_arg(req, "start"), seconds_arg(req, "end")
        limit = int_arg(req, "limit", 1000, minimum=1)
        return await asyncio.to_thread(self.reader.tag_names, start, end, limit)

    async def tags_v1(self, req: Request) -> Response:
        names = await self._tag_names(req)
        return json_response({"tagNames": sorted(set(names["span"]) | set(names["resource"]))})

    async def tags_v2(self, req: Request) -> Response:
        scope = req.arg("scope") or "all"
        if scope not in ("all", "none", "", "span", "resource", "intrinsic"):
            raise HTTPError(400, f"invalid scope {scope!r}: expected span, resource, intrinsic or none")
        names = await self._tag_names(req)
        scopes = []
        for name in ("resource", "span"):
            if scope in ("all", "none", "", name):
                scopes.append({"name": name, "tags": names[name]})
        if scope in ("all", "none", "", "intrinsic"):
            scopes.append({"name": "intrinsic", "tags": _INTRINSIC_TAGS})
        return json_response({"scopes": scopes})

    async def _tag_values(self, req: Request) -> tuple[object, list[str]]:
        raw = req.path_params["tag"]
        # Grafana encodes tag names twice; the router decoded once
        while "%" in raw:
            from urllib.parse import unquote

            decoded = unquote(raw)
            if decoded == raw:
                break
            raw = decoded
        fld = parse_tag_name(raw)
        values = await asyncio.to_thread(
            self.reader.tag_values,
            fld,
            seconds_arg(req, "start"),
            seconds_arg(req, "end"),
            int_arg(req, "limit", 1000, minimum=1),
        )
        return fld, values

    async def tag_values_v1(self, req: Request) -> Response:
        _, values = await self._tag_values(req)
        return json_response({"tagValues": values})

    async def tag_values_v2(self, req: Request) -> Response:
        fld, values = await self._tag_values(req)
        kind = "keyword" if isinstance(fld, Intrinsic) and fld.name in _KEYWORD_TAGS else "string"
        return json_response({"tagValues": [{"type": kind, "value": v} for v in values]})


def _trace_json(m: TraceMatch) -> dict:
    spans = [
        {
            "spanID": s.span_id,
            "name": s.name,
            "startTimeUnixNano": str(s.start),
            "durationNanos": str(s.duration),
            "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in s.attributes.items()],
        }
        for s in m.spans
    ]
    spanset = {"spans": spans, "matched": m.matched}
    return {
        "traceID": m.trace_id,
        "rootServiceName": m.root_service or "<root span not yet received>",
        "rootTraceName": m.root_name,
        "startTimeUnixNano": str(m.start),
        "durationMs": m.duration // 1_000_000,
        "spanSet": spanset,
        "spanSets": [spanset],
        "serviceStats": {k: {"spanCount": c, "errorCount": e} for k, (c, e) in m.services.items()},
    }
