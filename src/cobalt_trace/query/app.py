"""The query API as one ASGI app: Tempo, Jaeger (v1 + api_v3) and our endpoints.

`GET /api/traces/{id}` exists in both Tempo and Jaeger v1.  Like a server that speaks both, we
decide per request: `Accept: application/protobuf` (what Grafana's Tempo data source sends) or
`?format=tempo` gets Tempo's answer; everything else (Jaeger UI, Grafana's Jaeger data source)
gets Jaeger's JSON.
"""

from __future__ import annotations

from ..store.api import TraceReader
from .cobalt import CobaltAPI
from .http import Request, Response, Router
from .jaeger import JaegerAPI, jaeger_error
from .tempo import PROTOBUF, TempoAPI
from .ui import ui_routes
from .ui_api import UIAPI

__all__ = ["create_app"]


def create_app(reader: TraceReader) -> Router:
    tempo, jaeger, cobalt = TempoAPI(reader), JaegerAPI(reader), CobaltAPI(reader)
    router = Router()
    for method, path, handler in tempo.routes():
        router.add(method, path, handler)
    for method, path, handler, errors in jaeger.routes():
        router.add(method, path, handler, errors)
    for method, path, handler in cobalt.routes():
        router.add(method, path, handler)
    for method, path, handler in [*UIAPI(reader).routes(), *ui_routes()]:
        router.add(method, path, handler)

    def wants_tempo(req: Request) -> bool:
        return req.accepts(PROTOBUF) or req.arg("format") == "tempo"

    async def trace_by_id(req: Request) -> Response:
        return await (tempo.trace_v1(req) if wants_tempo(req) else jaeger.trace(req))

    router.add("GET", "/api/traces/{trace_id}", trace_by_id, _clash_errors)
    return router


def _clash_errors(status: int, message: str) -> Response:
    # The error body cannot see the request; Jaeger's envelope is JSON that Tempo clients
    # (which only read the status) also accept.
    return jaeger_error(status, message)
