"""Integration: a real rabbitmq-server, an API process and an agent process, spans over real OTLP/HTTP.

API request (paste pipeline: our filter + oslo.middleware RequestId) -> RPC call and cast over
rabbit:// -> the agent's endpoint -> keystoneauth HTTP call to a second API. One trace.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import urllib.request

import pytest
from os_broker import RabbitBroker, find_rabbitmq_server

HERE = os.path.dirname(os.path.abspath(__file__))
PORT_ID = "5d1e8c9a-2b3f-4e6d-8c7b-1a2f3e4d5c6b"
SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL = 2, 3, 4, 5, 1  # OTLP SpanKind values


@pytest.fixture(scope="module")
def broker():
    executable = find_rabbitmq_server()
    if executable is None:
        pytest.skip(
            "rabbitmq-server is not installed (Debian package rabbitmq-server; see .ci/system-packages)"
        )
    node = RabbitBroker(executable)
    node.start()
    yield node
    node.stop()


class ServiceProcess:
    def __init__(self, args, env):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "os_procs.py"), *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink(line)

    def ready(self, timeout=60.0) -> dict:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no READY line; stderr:\n{''.join(self.stderr)[-3000:]}") from None
            if line.startswith("READY "):
                return json.loads(line[6:])

    def stop(self) -> int:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def _env(sink):
    env = dict(os.environ)
    env.update(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=sink.endpoint,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf",
        OTEL_BSP_SCHEDULE_DELAY="100",
        PYTHONPATH=HERE + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.pop("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", None)
    return env


@pytest.mark.parametrize("agent_mode", ["threads", "eventlet"])
def test_api_rpc_agent_http_is_one_trace_over_rabbitmq(broker, otlp_sink, tmp_path, agent_mode):
    env = _env(otlp_sink)
    api = ServiceProcess(["api", broker.url, str(tmp_path)], env)
    agent = None
    try:
        ports = api.ready()
        api2_url = f"http://127.0.0.1:{ports['api2']}/v2.0/ports/{PORT_ID}/status"
        agent_args = ["agent", broker.url, api2_url] + (["--eventlet"] if agent_mode == "eventlet" else [])
        agent = ServiceProcess(agent_args, env)
        assert agent.ready()["eventlet"] == (agent_mode == "eventlet")

        request = urllib.request.Request(f"http://127.0.0.1:{ports['api1']}/v2.0/ports/{PORT_ID}/bind")
        with urllib.request.urlopen(request, timeout=60) as resp:
            assert resp.status == 200
            body = json.loads(resp.read())
            request_id = resp.headers["x-openstack-request-id"]
        assert body["hook"] == {"id": "p1", "status": "ACTIVE"}

        def complete(spans):
            names = {(s.service, s.name) for s in spans}
            return ("os-api", "GET /v2.0/ports/{id}/status") in names and sum(
                1 for s in spans if s.name == "process agent"
            ) == 2

        otlp_sink.wait_for(complete, timeout=60)
    finally:
        codes = [p.stop() for p in (agent, api) if p is not None]
    spans = list(otlp_sink.spans)  # everything, including what the shutdown flush sent
    assert codes == [0, 0], (agent.stderr[-20:] if agent else None, api.stderr[-20:])

    by_id = {s.span_id: s for s in spans}
    assert len({s.trace_id for s in spans}) == 1, spans
    root = [s for s in spans if s.parent_span_id is None]
    assert len(root) == 1 and root[0].name == "GET /v2.0/ports/{id}/bind" and root[0].kind == SERVER
    root = root[0]

    def parent(span):
        return by_id[span.parent_span_id]

    producers = {s.attributes["rpc.method"]: s for s in spans if s.kind == PRODUCER}
    consumers = {s.attributes["rpc.method"]: s for s in spans if s.kind == CONSUMER}
    assert set(producers) == set(consumers) == {"get_port", "work"}
    for method in ("get_port", "work"):
        producer, consumer = producers[method], consumers[method]
        assert producer.service == "os-api" and consumer.service == "os-agent"
        assert parent(producer) is root
        assert parent(consumer) is producer
        assert producer.name == "send agent" and consumer.name == "process agent"
        for s in (producer, consumer):
            assert s.attributes["messaging.system"] == "rabbitmq"
            assert s.attributes["messaging.destination.name"] == "agent"
        assert consumer.attributes["messaging.message.id"] == producer.attributes["messaging.message.id"]
        assert consumer.attributes["messaging.cobalt.queue_wait_ms"] >= 0
    internal = next(s for s in spans if s.name == "agent.sync_port")
    assert parent(internal) is consumers["work"]
    client = next(s for s in spans if s.kind == CLIENT)
    assert client.service == "os-agent" and client.name == "GET"
    assert parent(client) is internal
    api2 = next(s for s in spans if s.name == "GET /v2.0/ports/{id}/status")
    assert api2.kind == SERVER and api2.service == "os-api"
    assert parent(api2) is client
    # One global request id on every span: api1's own id, forwarded through RPC and HTTP.
    for s in spans:
        if s.kind != INTERNAL:
            assert s.attributes.get("openstack.global_request_id") == request_id, s
    assert api2.attributes["openstack.request_id"] != request_id  # api2 has its own request id
    # Resource attributes from setup().
    assert consumers["work"].resource["cluster"] == "hypervisor-1"
    assert root.resource["service.namespace"] == "openstack"
    assert root.resource["cluster"] == "control-plane"
