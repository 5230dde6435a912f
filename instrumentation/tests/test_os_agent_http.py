"""Agent spans (trace(), periodic tasks) and outgoing HTTP with X-OpenStack-Request-Id."""

from __future__ import annotations

import asyncio
import json
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from keystoneauth1 import session as ks_session
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, StatusCode
from oslo_config import cfg
from oslo_middleware import RequestId
from oslo_service import periodic_task

import cobalt_trace_openstack
from cobalt_trace_openstack import trace
from cobalt_trace_openstack.correlation import EnvironIds, with_ids
from cobalt_trace_openstack.wsgi import TracingMiddleware

GLOBAL_ID = "req-12345678-1234-4234-8234-123456789abc"


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def echo_ids(environ, start_response):
    body = json.dumps(
        {
            "global_request_id": environ.get("openstack.global_request_id"),
            "traceparent": environ.get("HTTP_TRACEPARENT"),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


@pytest.fixture
def callee(os_tracing):
    """A second API: RequestId + our filter, served over real HTTP."""
    server = make_server(
        "127.0.0.1", 0, TracingMiddleware(RequestId(echo_ids)), server_class=WSGIServer, handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/images"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_trace_decorator_and_context_manager(spans):
    @trace("ovs.rpc_loop", root=True, iteration=1)
    def loop_iteration():
        with trace("ovs.process_ports", attributes={"ovs.bridge": "br-int"}) as span:
            assert span.is_recording()
            return 7

    with otel_trace.get_tracer("t").start_as_current_span("unrelated"):
        assert loop_iteration() == 7
    loop = spans.one("ovs.rpc_loop")
    inner = spans.one("ovs.process_ports")
    assert loop.parent is None  # root=True ignores the ambient span
    assert loop.attributes["iteration"] == 1 and inner.attributes["ovs.bridge"] == "br-int"
    assert inner.parent.span_id == loop.context.span_id
    assert loop.kind == SpanKind.INTERNAL


def test_trace_records_errors_and_reraises(spans):
    @trace("l3.ha_check")
    def check():
        raise ConnectionError("keepalived down")

    with pytest.raises(ConnectionError):
        check()
    with pytest.raises(KeyError), trace("dhcp.sync"):
        raise KeyError("net")
    for name in ("l3.ha_check", "dhcp.sync"):
        span = spans.one(name)
        assert span.status.status_code == StatusCode.ERROR
        assert span.events[0].name == "exception"


def test_trace_on_coroutines(spans):
    @trace("async.step")
    async def step():
        return 3

    assert asyncio.run(step()) == 3
    assert spans.one("async.step").end_time is not None


class Manager(periodic_task.PeriodicTasks):
    def __init__(self):
        super().__init__(cfg.ConfigOpts())
        self.runs = 0

    @periodic_task.periodic_task(spacing=1, run_immediately=True)
    def _sync_power_states(self, context):
        self.runs += 1
        with trace("compute.check_instance"):
            pass

    @periodic_task.periodic_task(spacing=1, run_immediately=True)
    def _heal_instance_info_cache(self, context):
        raise RuntimeError("neutron down")


def test_periodic_tasks_are_root_spans(spans):
    manager = Manager()
    with otel_trace.get_tracer("t").start_as_current_span("service-start"):
        manager.run_periodic_tasks(None)
    assert manager.runs == 1
    sync = spans.one("periodic Manager._sync_power_states")
    heal = spans.one("periodic Manager._heal_instance_info_cache")
    assert sync.parent is None and heal.parent is None
    assert sync.context.trace_id != heal.context.trace_id
    assert spans.one("compute.check_instance").parent.span_id == sync.context.span_id
    assert heal.status.status_code == StatusCode.ERROR  # oslo.service logged and swallowed it
    assert sync.attributes["openstack.periodic_task"] == "Manager._sync_power_states"


def test_outgoing_http_carries_traceparent_and_the_global_request_id(spans, callee):
    environ = {"openstack.request_id": GLOBAL_ID}
    tracer = otel_trace.get_tracer("t")
    with tracer.start_as_current_span("api-request") as parent:
        from opentelemetry import context

        token = context.attach(with_ids(EnvironIds(environ)))
        try:
            seen = requests.get(callee, timeout=10).json()
            # keystoneauth: an explicit global_request_id (nova passes context.global_id) wins.
            explicit = "req-99999999-9999-4999-8999-999999999999"
            ks = ks_session.Session().get(callee, global_request_id=explicit).json()
        finally:
            context.detach(token)
    assert seen["global_request_id"] == GLOBAL_ID
    assert ks["global_request_id"] == explicit
    clients = [s for s in spans.get() if s.kind == SpanKind.CLIENT]
    servers = [s for s in spans.get() if s.name == "GET /v2/images"]
    assert len(clients) == 2 and len(servers) == 2
    for client in clients:
        assert client.parent.span_id == parent.get_span_context().span_id
    assert {s.parent.span_id for s in servers} == {c.context.span_id for c in clients}
    assert sorted(c.attributes["openstack.global_request_id"] for c in clients) == sorted(
        [GLOBAL_ID, explicit]
    )
    assert seen["traceparent"].split("-")[1] == f"{parent.get_span_context().trace_id:032x}"


def test_outside_a_request_no_request_id_is_invented(spans, callee):
    seen = requests.get(callee, timeout=10).json()
    assert seen["global_request_id"] is None
    client = next(s for s in spans.get() if s.kind == SpanKind.CLIENT)
    assert "openstack.global_request_id" not in client.attributes
    assert cobalt_trace_openstack.dropped_spans() == 0
