"""CORS for browsers sending OTLP/HTTP, with the behaviour of the collector's CORS middleware:
origins may hold one `*` wildcard, credentials are allowed, preflights answer 204."""

from __future__ import annotations

__all__ = ["CorsPolicy"]

# Headers every preflight may ask for, as the collector's middleware always allows them.
_ALWAYS_ALLOWED_HEADERS = ("origin", "accept", "content-type", "x-requested-with")


class CorsPolicy:
    def __init__(self, cfg):
        self._any_origin = "*" in cfg.allowed_origins
        self._exact: set[str] = set()
        self._wildcards: list[tuple[str, str]] = []
        for origin in cfg.allowed_origins:
            origin = origin.lower()
            if "*" in origin:
                prefix, _, suffix = origin.partition("*")
                self._wildcards.append((prefix, suffix))
            else:
                self._exact.add(origin)
        headers = [h.lower() for h in cfg.allowed_headers]
        self._any_header = "*" in headers
        self._allowed_headers = set(_ALWAYS_ALLOWED_HEADERS) | set(headers)
        self._exposed = ", ".join(cfg.exposed_headers)
        self._max_age = cfg.max_age

    def origin_allowed(self, origin: str) -> bool:
        if self._any_origin:
            return True
        origin = origin.lower()
        if origin in self._exact:
            return True
        return any(
            len(origin) >= len(p) + len(s) and origin.startswith(p) and origin.endswith(s)
            for p, s in self._wildcards
        )

    def preflight(self, origin: str, method: str, request_headers: str) -> list[tuple[bytes, bytes]]:
        """Headers of the 204 answer to a preflight; without CORS headers when not allowed."""
        vary = [
            (b"vary", b"Origin"),
            (b"vary", b"Access-Control-Request-Method"),
            (b"vary", b"Access-Control-Request-Headers"),
        ]
        if not origin or not self.origin_allowed(origin) or method.upper() != "POST":
            return vary
        asked = [h.strip().lower() for h in request_headers.split(",") if h.strip()]
        if not self._any_header and any(h not in self._allowed_headers for h in asked):
            return vary
        out = vary + [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", b"POST"),
            (b"access-control-allow-credentials", b"true"),
        ]
        if asked:
            out.append((b"access-control-allow-headers", ", ".join(asked).encode("latin-1")))
        if self._max_age > 0:
            out.append((b"access-control-max-age", str(self._max_age).encode()))
        return out

    def actual(self, origin: str) -> list[tuple[bytes, bytes]]:
        """Headers added to the answer of a cross-origin POST."""
        if not origin or not self.origin_allowed(origin):
            return [(b"vary", b"Origin")]
        out = [
            (b"vary", b"Origin"),
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
        ]
        if self._exposed:
            out.append((b"access-control-expose-headers", self._exposed.encode("latin-1")))
        return out
