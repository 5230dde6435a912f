"""What must never reach a span: credential headers, secret query parameters, token values."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "SENSITIVE_HEADERS",
    "is_sensitive_header",
    "redact_query",
    "redact_url",
    "scrub_text",
]

REDACTED = "REDACTED"

# Compared after lower-casing and mapping "_" to "-", so WSGI environ spellings match too.
SENSITIVE_HEADERS = frozenset(
    {
        "x-auth-token",
        "x-subject-token",
        "x-service-token",
        "x-storage-token",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-auth-key",
        "x-trace-hmac",
        "x-openstack-ec2-signature",
    }
)
_SENSITIVE_WORDS = ("token", "password", "secret", "passwd", "credential", "signature", "auth", "key")


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def is_sensitive_header(name: str) -> bool:
    n = _norm(name)
    return n in SENSITIVE_HEADERS or "token" in n or "password" in n or "secret" in n


def _is_sensitive_param(name: str) -> bool:
    n = name.lower()
    return any(word in n for word in _SENSITIVE_WORDS)


def redact_query(query: str) -> str:
    """Replace the values of secret-looking query parameters; keeps the names for debugging."""
    if not query or not any(word in query.lower() for word in _SENSITIVE_WORDS):
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if _is_sensitive_param(k) else v) for k, v in pairs], safe="{}")


def redact_url(url: str) -> str:
    """Drop user-info and secret query values from a URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}:{REDACTED}@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query), parts.fragment))


def scrub_text(text: str, secrets: list[str]) -> str:
    """Remove known secret values (e.g. this request's token) from free text such as an error message."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(r"\1" + REDACTED, text)


_BEARER = re.compile(r"((?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{12,}", re.IGNORECASE)
