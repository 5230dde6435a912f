"""WSGI middleware / paste filter: one SERVER span per API request.

api-paste.ini::

    [filter:tracing]
    paste.filter_factory = cobalt_trace_openstack.wsgi:filter_factory
    # optional: enabled = true, capture_headers = X-Forwarded-For, X-Openstack-Nova-Api-Version
"""

from __future__ import annotations

import logging
import os

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _state
from .correlation import EnvironIds, with_ids
from .naming import KNOWN_METHODS, route_template
from .redaction import REDACTED, is_sensitive_header, redact_query
from .spans import record_error
from .w3c import context_from_headers

__all__ = ["TracingMiddleware", "filter_factory"]

LOG = logging.getLogger(__name__)
_TRUE = {"1", "true", "yes", "on"}

# Environ keys whose values are secrets of this request; scrubbed from error messages.
_SECRET_ENVIRON_KEYS = (
    "HTTP_X_AUTH_TOKEN",
    "HTTP_X_SUBJECT_TOKEN",
    "HTTP_X_SERVICE_TOKEN",
    "HTTP_AUTHORIZATION",
    "HTTP_COOKIE",
)


class _EnvironGetter(Getter):
    def get(self, carrier, key):
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if isinstance(value, str) else None

    def keys(self, carrier):
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


_GETTER = _EnvironGetter()

# The propagator installed by default (OTEL_PROPAGATORS unset: tracecontext + baggage). While it
# is the global one, requests without baggage take the W3C fast path; anything else goes through
# the global propagator.
_DEFAULT_TEXTMAP = propagate.get_global_textmap()
_DEFAULT_PROPAGATORS = os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage").replace(" ", "") in (
    "tracecontext,baggage",
    "tracecontext",
)


def _extract(environ):
    if (
        _DEFAULT_PROPAGATORS
        and propagate.get_global_textmap() is _DEFAULT_TEXTMAP
        and "HTTP_BAGGAGE" not in environ
    ):
        return context_from_headers(
            environ.get("HTTP_TRACEPARENT"), environ.get("HTTP_TRACESTATE"), environ, _GETTER
        )
    return propagate.extract(environ, getter=_GETTER)


class TracingMiddleware:
    """Wraps a WSGI app; tracing failures are swallowed, the app's own exceptions pass unchanged."""

    def __init__(self, app, *, tracer_provider=None, capture_headers=(), enabled=True):
        self.app = app
        self.enabled = enabled
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        # (environ key, attribute name, redact?) computed once.
        self._capture = tuple(
            (
                "HTTP_" + h.strip().upper().replace("-", "_"),
                "http.request.header." + h.strip().lower(),
                is_sensitive_header(h),
            )
            for h in capture_headers
            if h and h.strip()
        )

    def __call__(self, environ, start_response):
        if not self.enabled:
            return self.app(environ, start_response)
        try:
            span, token = self._start(environ)
        except Exception as exc:  # tracing must never fail a request
            LOG.debug("cobalt-trace: cannot start request span: %s", type(exc).__name__)
            return self.app(environ, start_response)

        seen = [None, None]  # the status line and headers given to start_response

        def traced_start_response(status, headers, exc_info=None):
            try:
                seen[0], seen[1] = status, headers
                ctx = span.get_span_context()
                if ctx.is_valid:
                    headers.append(
                        ("traceresponse", f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}")
                    )
            except Exception:
                pass
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, traced_start_response)
        except BaseException as exc:
            self._finish(span, environ, seen, exc)
            raise
        finally:
            try:
                context.detach(token)
            except Exception:
                pass
        if isinstance(result, list | tuple):
            self._finish(span, environ, seen, None)
            return result
        return _TracedBody(result, self, span, environ, seen)

    def _start(self, environ):
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        route = route_template(path)
        parent = trace.get_current_span().get_span_context()
        if parent.is_valid:
            # Already inside a request span (our filter twice, or another middleware): be its child.
            ctx, kind = None, SpanKind.INTERNAL
        else:
            try:
                ctx = _extract(environ)
            except Exception:  # a malformed header starts a new trace
                ctx = None
            kind = SpanKind.SERVER
        known = method in KNOWN_METHODS
        attributes = {
            "http.request.method": method if known else "_OTHER",
            "url.path": path or "/",
            "url.scheme": environ.get("wsgi.url_scheme", "http"),
            "http.route": route,
        }
        if not known:
            attributes["http.request.method_original"] = method
        query = environ.get("QUERY_STRING")
        if query:
            attributes["url.query"] = redact_query(query)
        host = environ.get("HTTP_HOST")
        if host:
            name, _, port = host.rpartition(":") if host.rfind(":") > host.rfind("]") else (host, "", "")
            attributes["server.address"] = name
            if port.isdigit():
                attributes["server.port"] = int(port)
        else:
            attributes["server.address"] = environ.get("SERVER_NAME", "")
            port = environ.get("SERVER_PORT", "")
            if port.isdigit():
                attributes["server.port"] = int(port)
        remote = environ.get("REMOTE_ADDR")
        if remote:
            attributes["client.address"] = remote
        agent = environ.get("HTTP_USER_AGENT")
        if agent:
            attributes["user_agent.original"] = agent
        proto = environ.get("SERVER_PROTOCOL", "")
        if proto.startswith("HTTP/"):
            attributes["network.protocol.version"] = proto[5:]
        for key, attr, redact in self._capture:
            value = environ.get(key)
            if value is not None:
                attributes[attr] = (REDACTED if redact else value,)
        span = self._tracer.start_span(
            f"{method if known else 'HTTP'} {route}", context=ctx, kind=kind, attributes=attributes
        )
        token = context.attach(with_ids(EnvironIds(environ), trace.set_span_in_context(span, ctx)))
        return span, token

    def _finish(self, span, environ, seen, exc) -> None:
        try:
            if span.is_recording():
                status = seen[0]
                ids = EnvironIds(environ)
                attrs = {}
                rid = ids.request_id or _response_request_id(seen[1])
                if rid:
                    attrs["openstack.request_id"] = rid
                gid = ids.global_request_id or rid
                if gid:
                    attrs["openstack.global_request_id"] = gid
                project = environ.get("HTTP_X_PROJECT_ID")
                if project:
                    attrs["openstack.project_id"] = project
                user = environ.get("HTTP_X_USER_ID")
                if user:
                    attrs["openstack.user_id"] = user
                code = None
                if status:
                    try:
                        code = int(status[:3])
                    except ValueError:
                        code = None
                if code is not None:
                    attrs["http.response.status_code"] = code
                span.set_attributes(attrs)
                if exc is not None:
                    record_error(span, exc, [environ.get(k) for k in _SECRET_ENVIRON_KEYS if environ.get(k)])
                elif code is not None and code >= 500:
                    span.set_attribute("error.type", str(code))
                    span.set_status(Status(StatusCode.ERROR))
            span.end()
        except Exception as err:
            LOG.debug("cobalt-trace: cannot finish request span: %s", type(err).__name__)


def _response_request_id(headers):
    """Services that set the request id themselves (Glance's context middleware) only return it
    in the ``x-openstack-request-id`` response header."""
    for name, value in headers or ():
        if name.lower() == "x-openstack-request-id":
            return value
    return None


class _TracedBody:
    """A streamed response: the span ends when the server closes the iterable."""

    __slots__ = ("_body", "_done", "_environ", "_mw", "_seen", "_span")

    def __init__(self, body, mw, span, environ, seen):
        self._body, self._mw, self._span, self._environ, self._seen = body, mw, span, environ, seen
        self._done = False

    def __iter__(self):
        try:
            yield from self._body
        except BaseException as exc:
            self._end(exc)
            raise

    def close(self):
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._end(None)

    def _end(self, exc):
        if not self._done:
            self._done = True
            self._mw._finish(self._span, self._environ, self._seen, exc)


def filter_factory(global_conf, **local_conf):
    """Paste ``filter_factory``; local options: ``enabled`` and ``capture_headers`` (comma-separated)."""
    conf = dict(global_conf or {})
    conf.update(local_conf)
    enabled = str(conf.get("enabled", "true")).strip().lower() in _TRUE
    settings = _state.settings
    if settings is not None and not settings.enabled:
        enabled = False
    headers = conf.get("capture_headers")
    if headers is None:
        capture = settings.capture_headers if settings is not None else ()
    else:
        capture = tuple(h for h in str(headers).split(",") if h.strip())

    def _filter(app):
        return TracingMiddleware(app, capture_headers=capture, enabled=enabled)

    return _filter
