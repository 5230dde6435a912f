"""A minimal ASGI HTTP layer: typed request, response, a regex router, and error mapping.

Handlers are `async def handler(request) -> Response`; raising `HTTPError` answers with its
status.  Each API decides how its errors look (`error_format`), since Tempo answers plain text
and Jaeger a JSON envelope.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

import orjson

__all__ = ["Request", "Response", "HTTPError", "Route", "Router", "json_response", "text_response"]

log = logging.getLogger("cobalt_trace.query")


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    path_params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def accepts(self, media_type: str) -> bool:
        return media_type in self.headers.get("accept", "")


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data, status: int = 200) -> Response:
    return Response(status, orjson.dumps(data), "application/json")


def text_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8")


Handler = Callable[[Request], Awaitable[Response]]
ErrorFormat = Callable[[int, str], Response]


@dataclass(slots=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: Handler
    error_format: ErrorFormat


def _plain_error(status: int, message: str) -> Response:
    return text_response(message + "\n", status)


class Router:
    """Routes `{name}` path templates (one segment each; `{name:path}` for the rest)."""

    def __init__(self):
        self.routes: list[Route] = []

    def add(
        self, method: str, template: str, handler: Handler, error_format: ErrorFormat = _plain_error
    ) -> None:
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", template)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        self.routes.append(Route(method, re.compile(f"^{regex}$"), handler, error_format))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        path_known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                path_known = True
                if route.method == method or (method == "HEAD" and route.method == "GET"):
                    return route, {k: unquote(v) for k, v in m.groupdict().items()}, True
        return None, {}, path_known

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        # the raw path keeps %2F inside a segment apart from real slashes
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        method = scope["method"]
        route, params, known = self.match(method, path)
        if route is None:
            resp = _plain_error(
                405 if known else 404, "method not allowed" if known else "404 page not found"
            )
        else:
            request = Request(method, path, query, headers, params)
            try:
                resp = await route.handler(request)
            except HTTPError as exc:
                resp = route.error_format(exc.status, exc.message)
            except Exception as exc:  # keep serving; report the failure to the caller
                log.exception("query handler failed for %s %s", method, path)
                resp = route.error_format(500, f"internal error: {type(exc).__name__}: {exc}")
        await _send(send, resp, method == "HEAD")


async def _send(send, resp: Response, head: bool) -> None:
    headers = [
        (b"content-type", resp.content_type.encode()),
        (b"content-length", str(len(resp.body)).encode()),
    ]
    headers += [(k.encode(), v.encode()) for k, v in resp.headers.items()]
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else resp.body})
