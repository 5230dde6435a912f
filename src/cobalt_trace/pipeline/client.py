"""Who sent the data being consumed: the collector's `client.Info`, carried in a context variable.

Receivers set it (address always; metadata only with `include_metadata: true`); processors that
batch across requests (batch with `metadata_keys`) capture it and restore it when they send.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

__all__ = ["ClientInfo", "current_client", "set_client"]


@dataclass(frozen=True, slots=True)
class ClientInfo:
    address: str = ""
    # lower-cased header / gRPC metadata names -> all their values
    metadata: dict[str, tuple[str, ...]] = field(default_factory=dict)
    auth: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> tuple[str, ...]:
        return self.metadata.get(key.lower(), ())


_EMPTY = ClientInfo()
_current: contextvars.ContextVar[ClientInfo] = contextvars.ContextVar("cobalt_trace_client", default=_EMPTY)


def current_client() -> ClientInfo:
    return _current.get()


def set_client(info: ClientInfo) -> contextvars.Token:
    return _current.set(info)
