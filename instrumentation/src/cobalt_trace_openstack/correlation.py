"""OpenStack request ids carried in the OpenTelemetry context, so outgoing calls can forward them."""

from __future__ import annotations

import re

from opentelemetry import context

__all__ = [
    "EnvironIds",
    "MessageIds",
    "current_ids",
    "is_valid_request_id",
    "with_ids",
]

_KEY = context.create_key("cobalt_trace_openstack.request_ids")

# The format oslo.middleware's RequestId accepts for an inbound global request id.
_REQUEST_ID = re.compile(r"^req-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$")


def is_valid_request_id(value) -> bool:
    return isinstance(value, str) and len(value) == 40 and _REQUEST_ID.match(value) is not None


class EnvironIds:
    """Ids of a WSGI request, read lazily: when our filter sits before oslo.middleware's RequestId,
    the ids appear in the environ only after the request has passed our filter."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict):
        self.environ = environ

    @property
    def request_id(self) -> str | None:
        return self.environ.get("openstack.request_id")

    @property
    def global_request_id(self) -> str | None:
        gid = self.environ.get("openstack.global_request_id")
        if gid:
            return gid
        header = self.environ.get("HTTP_X_OPENSTACK_REQUEST_ID")
        return header if is_valid_request_id(header) else None

    @property
    def global_id(self) -> str | None:
        """Like oslo.context's ``global_id``: the global request id, else this request's id."""
        return self.global_request_id or self.request_id


class MessageIds:
    """Ids from a serialized oslo.context (the dict an RPC message carries)."""

    __slots__ = ("global_request_id", "request_id")

    def __init__(self, ctxt: dict):
        rid = ctxt.get("request_id")
        gid = ctxt.get("global_request_id")
        self.request_id = rid if isinstance(rid, str) else None
        self.global_request_id = gid if isinstance(gid, str) else None

    @property
    def global_id(self) -> str | None:
        return self.global_request_id or self.request_id


def with_ids(ids, ctx=None):
    return context.set_value(_KEY, ids, ctx)


def current_ids():
    return context.get_value(_KEY)
