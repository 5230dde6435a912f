"""oslo.messaging instrumentation under eventlet monkey-patching (nova-compute style), over fake://.

Monkey-patching must happen before anything else is imported, so this runs in a fresh interpreter.
The RabbitMQ integration test has an eventlet variant too; this one needs no broker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = """
    import eventlet
    eventlet.monkey_patch()

    import oslo_messaging as om
    from oslo_context import context as oslo_context
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import cobalt_trace_openstack
    from os_rpc import AgentEndpoint, RequestContextSerializer, make_conf

    exporter = InMemorySpanExporter()
    cobalt_trace_openstack.setup("nova-compute", exporter=exporter)
    transport = om.get_rpc_transport(make_conf(), url="fake:/")
    endpoint = AgentEndpoint()
    server = om.get_rpc_server(
        transport, om.Target(topic="compute", server="hv1"), [endpoint], serializer=RequestContextSerializer()
    )
    server.start()
    client = om.get_rpc_client(transport, om.Target(topic="compute", server="hv1"), serializer=RequestContextSerializer())
    tracer = trace.get_tracer("t")

    def one(i):
        with tracer.start_as_current_span(f"caller-{i}"):
            eventlet.sleep(0)  # let other greenthreads interleave inside the span
            client.call(oslo_context.RequestContext(), "get_port", port_id=str(i))
            eventlet.sleep(0)

    pool = eventlet.GreenPool(10)
    for i in range(20):
        pool.spawn_n(one, i)
    pool.waitall()
    server.stop()
    server.wait()
    cobalt_trace_openstack.force_flush()
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    consumers = [s for s in spans if s.name == "process compute"]
    assert len(consumers) == 20, len(consumers)
    callers = set()
    for consumer in consumers:
        producer = by_id[consumer.parent.span_id]
        caller = by_id[producer.parent.span_id]
        assert producer.name == "send compute" and caller.name.startswith("caller-"), caller.name
        assert consumer.context.trace_id == caller.context.trace_id
        callers.add(caller.name)
    assert len(callers) == 20
    seen = {s["span_id"] for s in endpoint.seen}
    assert seen == {f"{c.context.span_id:016x}" for c in consumers}
    print("OK", len(spans))
"""


def test_rpc_spans_under_eventlet_monkey_patching():
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("OK 60"), result.stdout
