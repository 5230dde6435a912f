"""oslo.messaging instrumentation over the in-memory ``fake:`` driver, called from a real paste pipeline."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import os_apps
import oslo_messaging as om
import pytest
import webob
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from os_rpc import AgentEndpoint, NotificationEndpoint, RequestContextSerializer, make_conf
from oslo_context import context as oslo_context

GLOBAL_ID = "req-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


@pytest.fixture(scope="module")
def rpc_module(os_tracing):
    # One server per module: stopping a fake-driver server waits out its 1 s poll.
    conf = make_conf()
    transport = om.get_rpc_transport(conf, url="fake:/")
    endpoint = AgentEndpoint()
    server = om.get_rpc_server(
        transport, om.Target(topic="agent", server="host1"), [endpoint], serializer=RequestContextSerializer()
    )
    server.start()
    client = om.get_rpc_client(transport, om.Target(topic="agent"), serializer=RequestContextSerializer())
    yield transport, client, endpoint
    server.stop()
    server.wait()
    transport.cleanup()


@pytest.fixture
def rpc(rpc_module):
    transport, client, endpoint = rpc_module
    endpoint.seen.clear()
    endpoint.done.clear()
    return rpc_module


def _api_hook(client):
    def hook(environ):
        ctx = oslo_context.RequestContext.from_environ(environ)
        port = client.prepare(server="host1").call(ctx, "get_port", port_id="p1")
        client.prepare(server="host1").cast(ctx, "work", n=2)
        return port

    return hook


def test_api_request_to_rpc_call_and_cast_is_one_trace(spans, rpc, tmp_path):
    transport, client, endpoint = rpc
    os_apps.HOOKS["/v2.0/rpc"] = _api_hook(client)
    try:
        app = os_apps.load_pipeline(tmp_path, "before")
        resp = webob.Request.blank("/v2.0/rpc", headers={"X-OpenStack-Request-Id": GLOBAL_ID}).get_response(
            app
        )
    finally:
        os_apps.HOOKS.clear()
    assert resp.status_int == 200, resp.body
    assert json.loads(resp.body)["hook"] == {"id": "p1", "status": "ACTIVE"}
    assert endpoint.done.wait(10)

    got = spans.get()
    server = spans.one("GET /v2.0/rpc")
    producers = sorted(
        (s for s in got if s.kind == SpanKind.PRODUCER), key=lambda s: s.attributes["rpc.method"]
    )
    consumers = {s.attributes["rpc.method"]: s for s in got if s.kind == SpanKind.CONSUMER}
    assert [p.name for p in producers] == ["send agent", "send agent"]
    assert set(consumers) == {"get_port", "work"}
    for producer in producers:
        method = producer.attributes["rpc.method"]
        consumer = consumers[method]
        assert producer.parent.span_id == server.context.span_id
        assert consumer.parent.span_id == producer.context.span_id
        assert consumer.name == "process agent"
        assert consumer.context.trace_id == server.context.trace_id
        assert producer.attributes["messaging.message.id"] == consumer.attributes["messaging.message.id"]
        assert consumer.attributes["messaging.cobalt.queue_wait_ms"] >= 0
        for span in (producer, consumer):
            assert span.attributes["messaging.system"] == "oslo_fake"
            assert span.attributes["messaging.destination.name"] == "agent"
            assert span.attributes["openstack.global_request_id"] == GLOBAL_ID
        assert producer.attributes["messaging.operation.type"] == "send"
        assert consumer.attributes["messaging.operation.type"] == "process"
        assert producer.attributes["messaging.rabbitmq.destination.routing_key"] == "agent.host1"
    assert {p.attributes["messaging.oslo.call_type"] for p in producers} == {"call", "cast"}
    assert server.attributes["openstack.global_request_id"] == GLOBAL_ID
    # The endpoint ran inside the consumer span and got a clean RequestContext.
    for seen in endpoint.seen:
        assert seen["span_id"] == f"{consumers[seen['method']].context.span_id:016x}"
        assert seen["ctxt_type"] == "RequestContext"
        assert seen["global_id"] == GLOBAL_ID
        assert not {"traceparent", "tracestate", "cobalt_sent_at", "cobalt_message_id"} & set(
            seen["ctxt_keys"]
        )


def test_serialized_context_carries_w3c_keys_and_stays_json_safe(os_tracing):
    from cobalt_trace_openstack.messaging import TracingSerializer

    inner = RequestContextSerializer()
    serializer = TracingSerializer(inner)
    ctx = oslo_context.RequestContext(request_id="req-11111111-2222-4333-8444-555555555555")
    with trace.get_tracer("t").start_as_current_span("parent") as span:
        out = serializer.serialize_context(ctx)
    sc = span.get_span_context()
    assert out["traceparent"] == f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{sc.trace_flags:02x}"
    json.dumps(out)  # everything we add survives the wire's JSON
    assert serializer.serialize_entity(ctx, {"a": 1}) == {"a": 1} and inner.entities == 1
    back = serializer.deserialize_context(out)
    assert isinstance(back, oslo_context.RequestContext)
    # A plain-dict context given by the caller is never modified in place.
    plain = {"request_id": "r"}
    with trace.get_tracer("t").start_as_current_span("parent"):
        TracingSerializer().serialize_context(plain)
    assert plain == {"request_id": "r"}
    # Outside any span nothing is added.
    assert "traceparent" not in TracingSerializer().serialize_context({"a": 1})


@pytest.mark.parametrize(
    "junk",
    [
        {"traceparent": 12345, "tracestate": {"x": 1}, "cobalt_sent_at": "abc", "cobalt_message_id": ["m"]},
        {"traceparent": None, "cobalt_sent_at": True},
        {"traceparent": "00-zz-yy-01", "tracestate": "%%%", "cobalt_sent_at": -5},
        {"traceparent": ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"], "request_id": 7},
    ],
)
def test_malformed_context_from_the_wire_starts_a_new_trace(spans, rpc, junk):
    transport, client, endpoint = rpc
    ctxt = {"request_id": "req-11111111-2222-4333-8444-555555555555", **junk}
    transport._send(om.Target(topic="agent", server="host1"), ctxt, {"method": "work", "args": {"n": 1}})
    assert endpoint.done.wait(10)
    consumer = spans.one("process agent")
    assert consumer.parent is None
    assert "messaging.cobalt.queue_wait_ms" not in consumer.attributes
    assert consumer.status.status_code == StatusCode.UNSET


def test_endpoint_exception_is_recorded_and_returned_to_the_caller(spans, rpc):
    transport, client, endpoint = rpc
    ctx = oslo_context.RequestContext()
    with pytest.raises(ValueError):
        client.prepare(server="host1").call(ctx, "fail")
    consumer = spans.one("process agent")
    producer = spans.one("send agent")
    assert consumer.status.status_code == StatusCode.ERROR
    assert producer.status.status_code == StatusCode.ERROR  # the call raised in the caller too
    assert consumer.parent.span_id == producer.context.span_id


def test_concurrent_calls_from_threads_keep_their_own_parents(spans, rpc):
    transport, client, endpoint = rpc
    tracer = trace.get_tracer("t")

    def one(i):
        with tracer.start_as_current_span(f"caller-{i}") as span:
            client.prepare(server="host1").call(oslo_context.RequestContext(), "get_port", port_id=str(i))
            return span.get_span_context().span_id

    with ThreadPoolExecutor(8) as pool:
        callers = list(pool.map(one, range(16)))
    got = spans.get()
    by_id = {s.context.span_id: s for s in got}
    consumers = [s for s in got if s.kind == SpanKind.CONSUMER]
    assert len(consumers) == 16
    for consumer in consumers:
        producer = by_id[consumer.parent.span_id]
        caller = by_id[producer.parent.span_id]
        assert caller.name == f"caller-{callers.index(caller.context.span_id)}"
        assert consumer.context.trace_id == caller.context.trace_id


def test_notifications_are_traced_from_notifier_to_listener(spans, os_tracing):
    conf = make_conf()
    transport = om.get_notification_transport(conf, url="fake:/")
    endpoint = NotificationEndpoint()
    listener = om.get_notification_listener(
        transport, [om.Target(topic="notifications")], [endpoint], serializer=RequestContextSerializer()
    )
    listener.start()
    try:
        notifier = om.Notifier(
            transport,
            publisher_id="compute.host1",
            driver="messagingv2",
            topics=["notifications"],
            serializer=RequestContextSerializer(),
        )
        ctx = oslo_context.RequestContext(global_request_id=GLOBAL_ID, auth_token="gAAAAABnotifytoken")
        with trace.get_tracer("t").start_as_current_span("api"):
            notifier.prepare(publisher_id="compute.host2").info(ctx, "compute.instance.create.end", {"x": 1})
        assert endpoint.done.wait(10)
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
    producer = spans.one("send notifications")
    consumer = spans.one("process notifications")
    assert producer.kind == SpanKind.PRODUCER and consumer.kind == SpanKind.CONSUMER
    assert consumer.parent.span_id == producer.context.span_id
    assert producer.attributes["messaging.destination.name"] == "notifications.info"
    assert consumer.attributes["messaging.oslo.event_type"] == "compute.instance.create.end"
    assert producer.attributes["openstack.global_request_id"] == GLOBAL_ID
    assert endpoint.events[0]["span_id"] == f"{consumer.context.span_id:016x}"


def test_instrumentor_is_idempotent_reversible_and_registered(os_tracing):
    from importlib.metadata import entry_points

    from cobalt_trace_openstack.messaging import OsloMessagingInstrumentor, TracingSerializer

    names = {ep.name: ep.value for ep in entry_points(group="opentelemetry_instrumentor")}
    assert names["oslo_messaging"] == "cobalt_trace_openstack.messaging:OsloMessagingInstrumentor"
    assert isinstance(TracingSerializer(), om.Serializer)

    instrumentor = OsloMessagingInstrumentor()
    assert instrumentor.is_instrumented_by_opentelemetry
    wrapped = om.get_rpc_client
    instrumentor.instrument()  # second call: no double wrapping
    assert om.get_rpc_client is wrapped
    instrumentor.uninstrument()
    try:
        assert not hasattr(om.get_rpc_client, "__wrapped__")
        assert "__wrapped__" not in vars(om.Notifier._notify)
        conf = make_conf()
        transport = om.get_rpc_transport(conf, url="fake:/")
        client = om.get_rpc_client(transport, om.Target(topic="x"))
        assert not isinstance(client.serializer, TracingSerializer)
    finally:
        instrumentor.instrument(skip_dep_check=True)
    assert isinstance(om.get_rpc_client(transport, om.Target(topic="x")).serializer, TracingSerializer)


def test_a_cast_that_cannot_be_sent_still_raises_the_callers_error(spans, rpc):
    transport, client, endpoint = rpc
    done = threading.Event()

    def broken_send(*args, **kwargs):
        done.set()
        raise om.MessageDeliveryFailure("broker gone")

    original = transport._send
    transport._send = broken_send
    try:
        with pytest.raises(om.MessageDeliveryFailure):
            client.cast(oslo_context.RequestContext(), "work", n=1)
    finally:
        transport._send = original
    assert done.is_set()
    assert spans.one("send agent").status.status_code == StatusCode.ERROR
