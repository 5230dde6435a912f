"""The two service processes of the RabbitMQ integration test.

    python os_procs.py api   <transport_url>              -> serves api1 (calls the agent) and api2
    python os_procs.py agent <transport_url> <api2_url> [--eventlet]

Each prints one line ``READY <json>`` once serving, exits cleanly on ``stop`` (or EOF) on stdin,
and exports its spans with the official OTLP/HTTP exporter to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--eventlet" in sys.argv:
    # nova-compute style: monkey-patch before anything else is imported.
    import eventlet

    eventlet.monkey_patch()

import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
from socketserver import ThreadingMixIn  # noqa: E402
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _serve(app):
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _wait_for_stop():
    import select  # green after eventlet.monkey_patch(): a blocking stdin read would stall the hub

    while True:
        select.select([sys.stdin], [], [])
        line = sys.stdin.readline()
        if not line or line.strip() == "stop":
            return


def _wait_for_queue(transport_url: str, queue: str, timeout: float = 30.0) -> None:
    """server.start() may return before the listener declared its queue (it does under eventlet);
    a message sent before that would be dropped by the broker, so READY waits for the queue."""
    import time

    import kombu

    url = transport_url.replace("rabbit://", "amqp://", 1)
    deadline = time.monotonic() + timeout
    with kombu.Connection(url) as conn:
        while True:
            try:
                conn.channel().queue_declare(queue=queue, passive=True)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def run_api(transport_url: str, tmp_dir: str) -> None:
    import pathlib

    import os_apps
    import oslo_messaging as om
    from os_rpc import RequestContextSerializer, make_conf
    from oslo_context import context as oslo_context

    import cobalt_trace_openstack

    cobalt_trace_openstack.setup("os-api", cluster="control-plane")
    transport = om.get_rpc_transport(make_conf(), url=transport_url)
    client = om.get_rpc_client(transport, om.Target(topic="agent"), serializer=RequestContextSerializer())

    def rpc_hook(environ):
        ctx = oslo_context.RequestContext.from_environ(environ)
        port = client.prepare(server="host1", timeout=30).call(ctx, "get_port", port_id="p1")
        client.prepare(server="host1").cast(ctx, "work", n=1)
        return port

    os_apps.HOOKS["/v2.0/ports/5d1e8c9a-2b3f-4e6d-8c7b-1a2f3e4d5c6b/bind"] = rpc_hook
    api1 = _serve(os_apps.load_pipeline(pathlib.Path(tmp_dir), "before"))
    api2 = _serve(os_apps.load_pipeline(pathlib.Path(tmp_dir), "after"))
    print("READY " + json.dumps({"api1": api1.server_address[1], "api2": api2.server_address[1]}), flush=True)
    _wait_for_stop()
    api1.shutdown()
    api2.shutdown()
    transport.cleanup()
    cobalt_trace_openstack.shutdown()


def run_agent(transport_url: str, api2_url: str, use_eventlet: bool) -> None:
    import oslo_messaging as om
    from keystoneauth1 import session as ks_session
    from os_rpc import AgentEndpoint, RequestContextSerializer, make_conf

    import cobalt_trace_openstack

    cobalt_trace_openstack.setup("os-agent", cluster="hypervisor-1")
    http = ks_session.Session()

    def report(ctxt, n):
        # Agent work that is not an RPC, then a call to a second API through keystoneauth.
        with cobalt_trace_openstack.trace("agent.sync_port", attributes={"port.count": n}):
            http.get(api2_url, raise_exc=True)

    endpoint = AgentEndpoint(on_work=report)
    transport = om.get_rpc_transport(make_conf(), url=transport_url)
    server = om.get_rpc_server(
        transport, om.Target(topic="agent", server="host1"), [endpoint], serializer=RequestContextSerializer()
    )
    server.start()
    _wait_for_queue(transport_url, "agent.host1")
    print("READY " + json.dumps({"eventlet": use_eventlet}), flush=True)
    _wait_for_stop()
    server.stop()
    server.wait()
    transport.cleanup()
    cobalt_trace_openstack.shutdown()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "api":
        run_api(sys.argv[2], sys.argv[3])
    elif mode == "agent":
        run_agent(sys.argv[2], sys.argv[3], "--eventlet" in sys.argv)
    else:
        raise SystemExit(f"unknown mode {mode!r}; expected 'api' or 'agent'")
