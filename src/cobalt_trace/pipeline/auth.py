"""The two sides of authentication extensions, as the collector's `extension/auth` defines them.

A receiver setting `auth: {authenticator: <id>}` calls `authenticate(headers)` on that extension
for every request; an exporter with `auth` adds `request_headers()` to every request it sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .component import ComponentID

__all__ = [
    "AuthenticationError",
    "ServerAuthenticator",
    "ClientAuthenticator",
    "ClientAuthSettings",
    "ServerAuthSettings",
    "header_value",
]


class AuthenticationError(Exception):
    """The request carries no valid credentials (401 / UNAUTHENTICATED)."""


@runtime_checkable
class ServerAuthenticator(Protocol):
    def authenticate(self, headers: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
        """Return attributes of the authenticated client (for `from_context: auth.<attr>`)."""
        ...


@runtime_checkable
class ClientAuthenticator(Protocol):
    def request_headers(self) -> dict[str, str]: ...


def header_value(headers: Mapping[str, tuple[str, ...]], name: str) -> str | None:
    """First value of a header/metadata key (keys are lower-case), or None."""
    values = headers.get(name.lower())
    return values[0] if values else None


def _check_authenticator(ref: str, missing: str) -> list[str]:
    if not ref:
        return [f"authenticator: {missing}"]
    try:
        ComponentID.parse(ref)
    except ValueError as exc:
        return [f"authenticator: {exc}"]
    return []


@dataclass
class ClientAuthSettings:
    """An exporter's `auth: {authenticator: <extension id>}` (the collector's `configauth`)."""

    authenticator: str = ""

    def validate(self) -> list[str]:
        return _check_authenticator(
            self.authenticator, "the id of a client authenticator extension is required"
        )


@dataclass
class ServerAuthSettings:
    """A receiver's `auth: {authenticator: <extension id>, request_params: [...]}`."""

    authenticator: str = ""
    request_params: list[str] = field(default_factory=list)

    def validate(self) -> list[str]:
        return _check_authenticator(self.authenticator, "must name an extension")
