"""oslo.messaging pieces shared by the fake:// tests and the RabbitMQ processes."""

from __future__ import annotations

import threading

from opentelemetry import trace
from oslo_context import context as oslo_context
from oslo_messaging.serializer import Serializer


class RequestContextSerializer(Serializer):
    """What services do (nova.rpc.RequestContextSerializer): RequestContext <-> dict."""

    def __init__(self):
        self.entities = 0

    def serialize_entity(self, ctxt, entity):
        self.entities += 1
        return entity

    def deserialize_entity(self, ctxt, entity):
        return entity

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return oslo_context.RequestContext.from_dict(ctxt)


def current_span_ids() -> dict:
    ctx = trace.get_current_span().get_span_context()
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


class AgentEndpoint:
    """An agent's RPC endpoint: records what it saw; ``work`` (a cast) signals when done."""

    def __init__(self, on_work=None):
        self.seen: list[dict] = []
        self.done = threading.Event()
        self.on_work = on_work

    def _record(self, method, ctxt):
        self.seen.append(
            {
                "method": method,
                "ctxt_type": type(ctxt).__name__,
                "ctxt_keys": sorted(ctxt.to_dict()) if hasattr(ctxt, "to_dict") else sorted(ctxt),
                "global_id": getattr(ctxt, "global_id", None),
                **current_span_ids(),
            }
        )

    def get_port(self, ctxt, port_id):
        self._record("get_port", ctxt)
        return {"id": port_id, "status": "ACTIVE"}

    def work(self, ctxt, n):
        self._record("work", ctxt)
        try:
            if self.on_work is not None:
                self.on_work(ctxt, n)
        finally:
            self.done.set()

    def fail(self, ctxt):
        raise ValueError("agent failed")


class NotificationEndpoint:
    def __init__(self):
        self.events: list[dict] = []
        self.done = threading.Event()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.events.append({"event_type": event_type, "ctxt": ctxt, **current_span_ids()})
        self.done.set()


def make_conf(project="os-test"):
    """A private ConfigOpts for a transport.

    oslo.messaging reads ``[oslo_messaging_metrics]`` (and, since 18.3, ``[oslo_messaging_tracing]``)
    on every send but registers them only on the global ``cfg.CONF``; its ConfFixture registers
    them by hand the same way.
    """
    import importlib

    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    for module, group in (
        ("oslo_messaging._metrics.client", "oslo_messaging_metrics"),
        ("oslo_messaging._tracing.client", "oslo_messaging_tracing"),
    ):
        try:
            options = getattr(importlib.import_module(module), group)
        except (ImportError, AttributeError):
            continue
        conf.register_opts(options, group=group)
    conf([], project=project)
    return conf
