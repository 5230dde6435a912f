"""Low-cardinality span names: ids in a URL path become ``{id}``."""

from __future__ import annotations

import re

__all__ = ["KNOWN_METHODS", "route_template", "span_name"]

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})

# A whole path segment that is a number, a UUID (with or without dashes), a hex id that contains at
# least one digit (so words such as "deadbeef" or "detail" stay), or a request id; Swift-style
# account segments keep their prefix (AUTH_<hex> -> AUTH_{id}). One pass over the path.
_ID_SEGMENT = re.compile(
    r"(?<=/)([A-Za-z]+_)?"
    r"(?:\d+"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}"
    r"|req-[0-9a-f-]{36})"
    r"(?=/|$)"
)
_MAX_PATH = 2048


def _replace(match: re.Match) -> str:
    return (match.group(1) or "") + "{id}"


def route_template(path: str) -> str:
    if not path:
        return "/"
    if len(path) > _MAX_PATH:
        path = path[:_MAX_PATH]
    return _ID_SEGMENT.sub(_replace, path)


def span_name(method: str, route: str) -> str:
    return f"{method if method in KNOWN_METHODS else 'HTTP'} {route}"
