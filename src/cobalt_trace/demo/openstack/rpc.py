"""oslo.messaging as the services use it: a private ConfigOpts, nova's context serializer, the
topics and servers of the simulated cloud."""

from __future__ import annotations

import importlib

import oslo_messaging as om
from oslo_config import cfg
from oslo_context import context as oslo_context

__all__ = [
    "ContextSerializer",
    "make_conf",
    "rpc_client",
    "rpc_server",
    "notification_listener",
    "notifier",
    "CONTROLLER_HOST",
    "TOPIC_CONDUCTOR",
    "TOPIC_SCHEDULER",
    "TOPIC_COMPUTE",
    "TOPIC_PLUGIN",
    "TOPIC_PORT_UPDATE",
    "TOPIC_PORT_DELETE",
    "TOPIC_NOTIFICATIONS",
]

CONTROLLER_HOST = "ctl-001"
TOPIC_CONDUCTOR = "conductor"
TOPIC_SCHEDULER = "scheduler"
TOPIC_COMPUTE = "compute"
TOPIC_PLUGIN = "q-plugin"
TOPIC_PORT_UPDATE = "q-agent-notifier-port-update"
TOPIC_PORT_DELETE = "q-agent-notifier-port-delete"
TOPIC_NOTIFICATIONS = "versioned_notifications"


class ContextSerializer(om.Serializer):
    """nova.rpc.RequestContextSerializer: RequestContext <-> dict."""

    def serialize_entity(self, ctxt, entity):
        return entity

    def deserialize_entity(self, ctxt, entity):
        return entity

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return oslo_context.RequestContext.from_dict(ctxt)


def make_conf(project: str) -> cfg.ConfigOpts:
    """A private ConfigOpts.  oslo.messaging reads `[oslo_messaging_metrics]` and (18.3+)
    `[oslo_messaging_tracing]` on every send but registers them only on the global CONF."""
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


def rpc_client(transport, topic: str, server: str | None = None, fanout: bool = False):
    target = om.Target(topic=topic, server=server, fanout=fanout)
    return om.get_rpc_client(transport, target, serializer=ContextSerializer())


def rpc_server(transport, topic: str, server: str, endpoints: list):
    target = om.Target(topic=topic, server=server)
    return om.get_rpc_server(
        transport, target, endpoints, executor="threading", serializer=ContextSerializer()
    )


def notification_listener(transport, topic: str, endpoints: list, pool: str):
    return om.get_notification_listener(
        transport,
        [om.Target(topic=topic)],
        endpoints,
        executor="threading",
        serializer=ContextSerializer(),
        pool=pool,
    )


def notifier(transport, publisher_id: str, topic: str):
    return om.Notifier(
        transport,
        publisher_id=publisher_id,
        driver="messagingv2",
        topics=[topic],
        serializer=ContextSerializer(),
    )
