"""Outgoing HTTP (requests, and keystoneauth which sends through requests): CLIENT spans with
``traceparent`` from opentelemetry-instrumentation-requests, plus ``X-OpenStack-Request-Id``."""

from __future__ import annotations

import logging

from .correlation import current_ids, is_valid_request_id

__all__ = ["REQUEST_ID_HEADER", "instrument_requests", "uninstrument_requests"]

LOG = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-OpenStack-Request-Id"


def _request_hook(span, request) -> None:
    try:
        ids = current_ids()
        if ids is None:
            return
        gid = ids.global_id
        if not gid:
            return
        headers = request.headers
        # keystoneauth's global_request_id= (e.g. nova passing context.global_id) wins.
        if REQUEST_ID_HEADER not in headers and is_valid_request_id(gid):
            headers[REQUEST_ID_HEADER] = gid
        span.set_attribute("openstack.global_request_id", headers.get(REQUEST_ID_HEADER) or gid)
    except Exception as exc:
        LOG.debug("cobalt-trace: request hook failed: %s", type(exc).__name__)


def instrument_requests(tracer_provider=None):
    """Instrument ``requests`` once per process; returns the instrumentor."""
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    instrumentor = RequestsInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=tracer_provider, request_hook=_request_hook)
    return instrumentor


def uninstrument_requests() -> None:
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().uninstrument()
