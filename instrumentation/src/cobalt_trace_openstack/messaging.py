"""oslo.messaging instrumentation: PRODUCER spans for cast/call/notify, CONSUMER spans around the
endpoint, W3C context carried inside the serialized request context.

oslo.messaging gives callers no access to AMQP headers, so the context travels as extra keys of
the serialized context dict: ``traceparent``/``tracestate`` (``_context_traceparent`` on the
wire), ``cobalt_sent_at`` (publish time, integer microseconds since the epoch) and
``cobalt_message_id``. All values are plain strings or integers, so they survive the JSON
round trip of every driver.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Collection

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from .correlation import MessageIds, current_ids, with_ids
from .spans import record_error
from .w3c import context_from_headers, headers_for

__all__ = [
    "MESSAGE_ID_KEY",
    "SENT_AT_KEY",
    "OsloMessagingInstrumentor",
    "TracingSerializer",
]

LOG = logging.getLogger(__name__)

SENT_AT_KEY = "cobalt_sent_at"
MESSAGE_ID_KEY = "cobalt_message_id"
_OUR_KEYS = frozenset({"traceparent", "tracestate", SENT_AT_KEY, MESSAGE_ID_KEY})
# Set by a producer span so serialize_context can stamp the message it is building.
_PRODUCING = context.create_key("cobalt_trace_openstack.producing")
_TRACER_NAME = "cobalt_trace_openstack.messaging"

_tracer = trace.get_tracer(_TRACER_NAME)


class _StrDictGetter(Getter):
    """Reads only string values: a context from the wire may hold anything."""

    def get(self, carrier, key):
        value = carrier.get(key)
        return [value] if isinstance(value, str) else None

    def keys(self, carrier):
        return [k for k in carrier if isinstance(k, str)]


_GETTER = _StrDictGetter()


def _serializer_base():
    from oslo_messaging.serializer import NoOpSerializer, Serializer

    return Serializer, NoOpSerializer


class TracingSerializer:
    """Wraps a service's serializer; adds the trace context on the way out, strips it on the way in.

    Registered as a virtual subclass of ``oslo_messaging.Serializer`` when oslo.messaging is loaded.
    """

    def __init__(self, inner=None):
        if inner is None:
            inner = _serializer_base()[1]()
        self.inner = inner

    def serialize_entity(self, ctxt, entity):
        return self.inner.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt, entity):
        return self.inner.deserialize_entity(ctxt, entity)

    def serialize_context(self, ctxt):
        out = self.inner.serialize_context(ctxt)
        try:
            if isinstance(out, dict) and trace.get_current_span().get_span_context().is_valid:
                out = dict(out)  # never mutate the caller's dict (NoOpSerializer returns it as is)
                out.update(headers_for(trace.get_current_span().get_span_context()))
                message_id = context.get_value(_PRODUCING)
                if isinstance(message_id, str):
                    out[MESSAGE_ID_KEY] = message_id
                    out[SENT_AT_KEY] = time.time_ns() // 1000
        except Exception as exc:
            LOG.debug("cobalt-trace: cannot add trace context: %s", type(exc).__name__)
        return out

    def deserialize_context(self, ctxt):
        if isinstance(ctxt, dict) and not _OUR_KEYS.isdisjoint(ctxt):
            ctxt = {k: v for k, v in ctxt.items() if k not in _OUR_KEYS}
        return self.inner.deserialize_context(ctxt)


_SYSTEMS = {"impl_rabbit": "rabbitmq", "impl_kafka": "kafka", "impl_amqp1": "amqp", "impl_fake": "oslo_fake"}


def _messaging_system(transport) -> str:
    driver = getattr(transport, "_driver", None)
    module = type(driver).__module__.rsplit(".", 1)[-1] if driver is not None else ""
    return _SYSTEMS.get(module, module or "unknown")


def _ids_of(ctxt):
    """(request_id, global id) of a request context object or dict, else of the current request."""
    if isinstance(ctxt, dict):
        rid, gid = ctxt.get("request_id"), ctxt.get("global_request_id")
    else:
        rid, gid = getattr(ctxt, "request_id", None), getattr(ctxt, "global_request_id", None)
    rid = rid if isinstance(rid, str) else None
    gid = gid if isinstance(gid, str) else None
    if not rid and not gid:
        ids = current_ids()
        if ids is not None:
            return ids.request_id, ids.global_id
    return rid, gid or rid


def _secrets_of(ctxt) -> list[str]:
    token = ctxt.get("auth_token") if isinstance(ctxt, dict) else getattr(ctxt, "auth_token", None)
    return [token] if isinstance(token, str) else []


def _start_producer(system, topic, destination, ctxt, extra):
    message_id = os.urandom(16).hex()
    rid, gid = _ids_of(ctxt)
    attributes = {
        "messaging.system": system,
        "messaging.destination.name": destination,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.message.id": message_id,
    }
    if rid:
        attributes["openstack.request_id"] = rid
    if gid:
        attributes["openstack.global_request_id"] = gid
    attributes.update(extra)
    span = _tracer.start_span(f"send {topic}", kind=SpanKind.PRODUCER, attributes=attributes)
    ctx = context.set_value(_PRODUCING, message_id, trace.set_span_in_context(span))
    return span, context.attach(ctx)


def _end(span, token, exc, secrets):
    try:
        if exc is not None:
            record_error(span, exc, secrets)
        span.end()
    finally:
        try:
            context.detach(token)
        except Exception:
            pass


def _wrap_send(original, call_type):
    def traced(self, ctxt, method, **kwargs):
        if not _active or not isinstance(getattr(self, "serializer", None), TracingSerializer):
            return original(self, ctxt, method, **kwargs)
        try:
            target = self.target
            topic = target.topic or ""
            routing_key = f"{topic}.{target.server}" if target.server else topic
            extra = {
                "messaging.rabbitmq.destination.routing_key": routing_key,
                "rpc.method": method,
                "rpc.system": "oslo_messaging",
                "messaging.oslo.call_type": call_type,
            }
            if target.fanout:
                extra["messaging.oslo.fanout"] = True
            if target.namespace:
                extra["rpc.service"] = target.namespace
            span, token = _start_producer(_messaging_system(self.transport), topic, topic, ctxt, extra)
        except Exception as exc:
            LOG.debug("cobalt-trace: cannot start producer span: %s", type(exc).__name__)
            return original(self, ctxt, method, **kwargs)
        error = None
        try:
            return original(self, ctxt, method, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            _end(span, token, error, _secrets_of(ctxt))

    traced.__wrapped__ = original
    return traced


def _wrap_notify(original):
    def traced(self, ctxt, event_type, payload, priority, *args, **kwargs):
        if not _active or not isinstance(getattr(self, "_serializer", None), TracingSerializer):
            return original(self, ctxt, event_type, payload, priority, *args, **kwargs)
        try:
            topics = getattr(self, "_topics", None) or getattr(getattr(self, "_base", None), "_topics", None)
            topic = topics[0] if topics else "notifications"
            extra = {"messaging.oslo.event_type": str(event_type), "messaging.oslo.priority": str(priority)}
            span, token = _start_producer(
                _messaging_system(self.transport), topic, f"{topic}.{str(priority).lower()}", ctxt, extra
            )
        except Exception as exc:
            LOG.debug("cobalt-trace: cannot start notify span: %s", type(exc).__name__)
            return original(self, ctxt, event_type, payload, priority, *args, **kwargs)
        error = None
        try:
            return original(self, ctxt, event_type, payload, priority, *args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            _end(span, token, error, _secrets_of(ctxt))

    traced.__wrapped__ = original
    return traced


def _start_consumer(incoming, system, topic, notification):
    ctxt = getattr(incoming, "ctxt", None)
    if not isinstance(ctxt, dict):
        ctxt = {}
    message = getattr(incoming, "message", None)
    if not isinstance(message, dict):
        message = {}
    try:
        parent = context_from_headers(ctxt.get("traceparent"), ctxt.get("tracestate"), ctxt, _GETTER)
    except Exception:  # malformed context: start a new trace
        parent = Context()
    attributes = {
        "messaging.system": system,
        "messaging.destination.name": topic,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
    }
    message_id = ctxt.get(MESSAGE_ID_KEY)
    if not isinstance(message_id, str):
        message_id = getattr(incoming, "msg_id", None) or message.get("message_id")
    if isinstance(message_id, str):
        attributes["messaging.message.id"] = message_id
    sent_at = ctxt.get(SENT_AT_KEY)
    if isinstance(sent_at, int) and not isinstance(sent_at, bool) and sent_at > 0:
        # Across hosts this includes clock skew; a negative wait means skew, not time travel.
        attributes["messaging.cobalt.queue_wait_ms"] = max(0.0, (time.time_ns() // 1000 - sent_at) / 1000.0)
    if notification:
        event_type = message.get("event_type")
        if isinstance(event_type, str):
            attributes["messaging.oslo.event_type"] = event_type
    else:
        method = message.get("method")
        if isinstance(method, str):
            attributes["rpc.method"] = method
            attributes["rpc.system"] = "oslo_messaging"
    ids = MessageIds(ctxt)
    if ids.request_id:
        attributes["openstack.request_id"] = ids.request_id
    if ids.global_id:
        attributes["openstack.global_request_id"] = ids.global_id
    span = _tracer.start_span(
        f"process {topic}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    )
    token = context.attach(with_ids(ids, trace.set_span_in_context(span, parent)))
    return span, token, ctxt


def _wrap_dispatcher(dispatcher, transport, topic, notification) -> None:
    original = dispatcher.dispatch
    system = _messaging_system(transport)

    def dispatch(incoming):
        if not _active:
            return original(incoming)
        try:
            span, token, ctxt = _start_consumer(incoming, system, topic, notification)
        except Exception as exc:
            LOG.debug("cobalt-trace: cannot start consumer span: %s", type(exc).__name__)
            return original(incoming)
        error = None
        try:
            result = original(incoming)
            if notification and str(result).lower().endswith("requeue"):
                span.set_status(Status(StatusCode.ERROR, "requeued"))
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            _end(span, token, error, _secrets_of(ctxt))

    dispatch.__wrapped__ = original
    dispatcher.dispatch = dispatch


def _with_serializer(original, args, kwargs):
    """Call a factory with its ``serializer`` argument wrapped, however it was passed."""
    bound = inspect.signature(original).bind(*args, **kwargs)
    current = bound.arguments.get("serializer")
    if not isinstance(current, TracingSerializer):
        bound.arguments["serializer"] = TracingSerializer(current)
    return original(*bound.args, **bound.kwargs), bound


def _factory_rpc_client(original):
    def get_rpc_client(transport, target, *args, **kwargs):
        serializer = kwargs.get("serializer")
        if not isinstance(serializer, TracingSerializer):
            kwargs["serializer"] = TracingSerializer(serializer)
        return original(transport, target, *args, **kwargs)

    return get_rpc_client


def _factory_rpc_server(original):
    def get_rpc_server(*args, **kwargs):
        server, bound = _with_serializer(original, args, kwargs)
        _safe_wrap_dispatcher(server, bound.arguments.get("transport"), bound.arguments.get("target"), False)
        return server

    return get_rpc_server


def _factory_listener(original):
    def get_notification_listener(*args, **kwargs):
        server, bound = _with_serializer(original, args, kwargs)
        targets = bound.arguments.get("targets") or []
        _safe_wrap_dispatcher(server, bound.arguments.get("transport"), targets[0] if targets else None, True)
        return server

    return get_notification_listener


def _safe_wrap_dispatcher(server, transport, target, notification) -> None:
    try:
        topic = getattr(target, "topic", None) or ("notifications" if notification else "rpc")
        _wrap_dispatcher(server.dispatcher, transport, topic, notification)
    except Exception as exc:
        LOG.debug("cobalt-trace: cannot wrap dispatcher: %s", type(exc).__name__)


def _wrap_notifier_init(original):
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if not isinstance(getattr(self, "_serializer", None), TracingSerializer):
            self._serializer = TracingSerializer(getattr(self, "_serializer", None))

    __init__.__wrapped__ = original
    return __init__


_active = False


class OsloMessagingInstrumentor(BaseInstrumentor):
    """``OsloMessagingInstrumentor().instrument(tracer_provider=...)``; also found by
    ``opentelemetry-instrument`` through the ``opentelemetry_instrumentor`` entry point."""

    _patches: list = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("oslo.messaging >= 14.0",)

    def _instrument(self, **kwargs):
        global _tracer, _active
        import oslo_messaging
        from oslo_messaging import notify, rpc
        from oslo_messaging.notify import listener, notifier
        from oslo_messaging.rpc import client, server
        from oslo_messaging.serializer import Serializer

        Serializer.register(TracingSerializer)
        _tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=kwargs.get("tracer_provider"))
        patches = []

        def patch_function(modules, name, make):
            original = getattr(modules[-1], name)
            wrapper = make(original)
            wrapper.__wrapped__ = original
            for module in modules:
                if getattr(module, name, None) is original:
                    setattr(module, name, wrapper)
                    patches.append((module, name, original))

        patch_function((oslo_messaging, rpc, client), "get_rpc_client", _factory_rpc_client)
        patch_function((oslo_messaging, rpc, server), "get_rpc_server", _factory_rpc_server)
        patch_function((oslo_messaging, notify, listener), "get_notification_listener", _factory_listener)
        for cls, name, make in (
            (client._BaseCallContext, "cast", lambda f: _wrap_send(f, "cast")),
            (client._BaseCallContext, "call", lambda f: _wrap_send(f, "call")),
            (notifier.Notifier, "_notify", _wrap_notify),
            (notifier.Notifier, "__init__", _wrap_notifier_init),
        ):
            original = cls.__dict__[name]
            setattr(cls, name, make(original))
            patches.append((cls, name, original))
        OsloMessagingInstrumentor._patches = patches
        _active = True

    def _uninstrument(self, **kwargs):
        global _active
        _active = False
        for owner, name, original in reversed(OsloMessagingInstrumentor._patches):
            setattr(owner, name, original)
        OsloMessagingInstrumentor._patches = []
