"""Serves the UI's files from memory: the SPA's pages and versioned, immutable assets.

Assets live under `/static/<version>/...`, where the version is a hash of all of them, so a
browser may cache them forever and a new release is fetched at once: index.html (never cached)
names the current version, and relative ES-module imports stay inside the versioned folder.
Every page carries a strict Content-Security-Policy as a second guard against span data that
would try to run as script (the code already renders it only as text).
"""

from __future__ import annotations

import hashlib
import logging
import re
from importlib import resources

from ..http import Request, Response

__all__ = ["SPA_PATHS", "UIAssets", "ui_routes"]

log = logging.getLogger("cobalt_trace.query.ui")

SPA_PATHS = ("/", "/search", "/services", "/trace/{trace_id}", "/request/{request_id}")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".ico": "image/x-icon",
}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY = {
    "content-security-policy": _CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
_HEX_ID = re.compile(r"[0-9a-fA-F]{1,32}")
_IMMUTABLE = "public, max-age=31536000, immutable"


class UIAssets:
    """Loads `static/` once; `index_html` has the asset version filled in."""

    def __init__(self):
        root = resources.files(__package__) / "static"
        self.files: dict[str, bytes] = {}
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if entry.is_file() and not entry.name.startswith("."):
                self.files[entry.name] = entry.read_bytes()
        digest = hashlib.sha256()
        for name, data in self.files.items():
            digest.update(name.encode() + b"\0" + data)
        self.version = digest.hexdigest()[:12]
        self.etags = {name: f'"{hashlib.sha256(data).hexdigest()[:16]}"' for name, data in self.files.items()}
        self.index_html = self.files["index.html"].replace(b"{{VERSION}}", self.version.encode())

    async def page(self, req: Request) -> Response:
        html = self.index_html
        trace_id = req.path_params.get("trace_id", "")
        if _HEX_ID.fullmatch(trace_id):
            # the browser fetches the trace while it is still loading the page's code
            link = f'<link rel="preload" as="fetch" crossorigin href="/api/cobalt/traces/{trace_id.lower()}">'
            html = html.replace(b"</head>", link.encode() + b"\n</head>", 1)
        return Response(200, html, _TYPES[".html"], {"cache-control": "no-cache", **_SECURITY})

    async def asset(self, req: Request) -> Response:
        name = req.path_params["name"]
        data = self.files.get(name)
        if data is None or name == "index.html":
            return Response(404, b"no such asset\n", "text/plain; charset=utf-8")
        etag = self.etags[name]
        # an old page may ask for an old version: answer with today's file, but not for keeps
        cache = _IMMUTABLE if req.path_params["version"] == self.version else "no-cache"
        headers = {"cache-control": cache, "etag": etag, **_SECURITY}
        if req.headers.get("if-none-match") == etag:
            return Response(304, b"", _content_type(name), headers)
        return Response(200, data, _content_type(name), headers)


async def _missing(req: Request) -> Response:
    return Response(
        503, b"web UI files are not installed (package data query/ui/static/*)\n", "text/plain; charset=utf-8"
    )


def _content_type(name: str) -> str:
    dot = name.rfind(".")
    return _TYPES.get(name[dot:], "application/octet-stream")


def ui_routes(assets: UIAssets | None = None):
    """(method, path template, handler) for the SPA's pages and its assets.  Without the files
    (a build that left out the package data) the pages answer 503 and the APIs still work."""
    if assets is None:
        try:
            assets = UIAssets()
        except (OSError, KeyError) as exc:
            log.warning("web UI disabled: its files are missing from the package (%s)", exc)
            return [("GET", path, _missing) for path in (*SPA_PATHS, "/static/{version}/{name}")]
    routes = [("GET", path, assets.page) for path in SPA_PATHS]
    routes.append(("GET", "/static/{version}/{name}", assets.asset))
    return routes
