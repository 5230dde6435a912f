"""Low-cardinality span names: ids in a URL path become ``{id}``."""

from __future__ import annotations

import re

__all__ = ["KNOWN_METHODS", "route_template", "span_name"]

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})

# A whole path segment that is a number, a UUID (with or without dashes) or a hex id that
# contains at least one digit (so words such as "deadbeef" or "detail" stay).
_ID_SEGMENT = re.compile(
    r"(?:\d+"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?=[0-9a-f]*\d)[0-9a-f]{8,}"
    r"|req-[0-9a-f-]{36})",
    re.IGNORECASE,
)
# Swift-style account segments keep their prefix: AUTH_<hex> -> AUTH_{id}.
_PREFIXED_ID = re.compile(r"([A-Za-z]+_)([0-9a-f]{8,})", re.IGNORECASE)
_MAX_PATH = 2048


def route_template(path: str) -> str:
    if not path:
        return "/"
    if len(path) > _MAX_PATH:
        path = path[:_MAX_PATH]
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if not seg:
            continue
        if _ID_SEGMENT.fullmatch(seg):
            segments[i] = "{id}"
        elif "_" in seg:
            m = _PREFIXED_ID.fullmatch(seg)
            if m and any(c.isdigit() for c in m.group(2)):
                segments[i] = m.group(1) + "{id}"
    return "/".join(segments)


def span_name(method: str, route: str) -> str:
    return f"{method if method in KNOWN_METHODS else 'HTTP'} {route}"
