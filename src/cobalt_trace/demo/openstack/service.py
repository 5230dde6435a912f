"""One simulated OpenStack service process:

    python -m cobalt_trace.demo.openstack.service NAME --topology FILE [--index N]

Sets up tracing exactly as a real service would (`cobalt_trace_openstack.setup()` with its name
and cluster, exporting to its cluster's gateway), starts its RPC servers and its API behind a
threaded WSGI server, prints `READY` on stdout and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
import zlib
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

__all__ = ["main"]

HA_CHECK_INTERVAL = 10.0


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _wait_for_broker(host: str, port: int, stop: threading.Event, timeout: float = 120.0) -> None:
    """Imports are done; connect only once the broker listens (the demo starts both at once)."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"message broker {host}:{port} not reachable after {timeout:.0f}s"
                ) from None
            stop.wait(0.1)


def _prepare_filesystem_transport() -> None:
    """Three adjustments of kombu's filesystem transport for many processes on oslo.messaging's
    rabbit driver: messages appear atomically (kombu writes the final file name in place, so a
    consumer can read it half-written), the folder is polled every 20 ms instead of every second,
    and channels get the `events` map the driver registers its on_return callback in (never
    called: virtual transports return no messages)."""
    import collections
    import os
    import uuid

    from kombu.transport import filesystem
    from kombu.utils.json import dumps

    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4().hex}")  # no dot: never read
        with open(partial, "wb") as f:
            f.write(dumps(payload).encode())
        os.rename(partial, os.path.join(self.data_folder_out, name))

    filesystem.Channel._put = _put
    filesystem.Transport.polling_interval = 0.02
    if not hasattr(filesystem.Channel, "events"):
        filesystem.Channel.events = property(
            lambda self: self.__dict__.setdefault("_cobalt_events", collections.defaultdict(set))
        )


def _rpc_parts(name: str, rt, notification_transport) -> list:
    """The RPC servers and notification listeners this service runs."""
    from . import rpc
    from .endpoints import Compute, Conductor, HaAgent, NeutronPlugin, OvsAgent, Scheduler

    host = rt.topology.hypervisor_host
    if name == "nova-conductor":
        return [rpc.rpc_server(rt.transport, rpc.TOPIC_CONDUCTOR, rpc.CONTROLLER_HOST, [Conductor(rt)])]
    if name == "nova-scheduler":
        return [rpc.rpc_server(rt.transport, rpc.TOPIC_SCHEDULER, rpc.CONTROLLER_HOST, [Scheduler(rt)])]
    if name == "nova-compute":
        notifier = rpc.notifier(notification_transport, f"nova-compute:{host}", rpc.TOPIC_NOTIFICATIONS)
        return [rpc.rpc_server(rt.transport, rpc.TOPIC_COMPUTE, host, [Compute(rt, notifier)])]
    if name == "neutron-server":
        return [rpc.rpc_server(rt.transport, rpc.TOPIC_PLUGIN, rpc.CONTROLLER_HOST, [NeutronPlugin(rt)])]
    if name == "neutron-openvswitch-agent":
        agent = OvsAgent(rt)
        return [
            rpc.rpc_server(rt.transport, rpc.TOPIC_PORT_UPDATE, host, [agent]),
            rpc.rpc_server(rt.transport, rpc.TOPIC_PORT_DELETE, host, [agent]),
        ]
    if name == "ha-agent":
        return [
            rpc.notification_listener(
                notification_transport, rpc.TOPIC_NOTIFICATIONS, [HaAgent(rt)], "ha-agent"
            )
        ]
    return []


def _ha_checks(rt, stop: threading.Event) -> None:
    """The HA agent's own loop: one root trace per check, asking Nova about the hypervisors."""
    from cobalt_trace_openstack import trace

    token = ""
    while not stop.wait(HA_CHECK_INTERVAL):
        try:
            with trace(
                "ha.check_hypervisors", root=True, attributes={"ha.host": rt.topology.hypervisor_host}
            ):
                if not token:
                    resp = rt.http("POST", "keystone", "/v3/auth/tokens", None, json={"auth": {}})
                    token = resp.headers.get("X-Subject-Token", "")
                rt.http("GET", "nova-api", "/v2.1/os-hypervisors/detail", token)
        except Exception as exc:
            logging.getLogger("ha-agent").warning("HA check failed: %s", exc)


def run(name: str, topology_path: Path, index: int) -> int:
    from ..topology import Topology, spec_of

    spec = spec_of(name)
    topo = Topology.load(topology_path)
    protocol, endpoint = topo.otlp_endpoint(spec, index)
    os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = protocol
    # Spans leave within a fraction of a second: the gateways' tail sampling waits for a trace's
    # spans only decision_wait long.
    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "200")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    import oslo_messaging as om

    import cobalt_trace_openstack

    from . import rpc
    from .runtime import Runtime, install

    cobalt_trace_openstack.setup(name, cluster=spec.cluster, endpoint=endpoint)
    rt = Runtime(name, topo, rng=random.Random(topo.seed ^ zlib.crc32(name.encode())))
    install(rt)

    if name == "greenhouse":
        from .caller import Caller

        caller = Caller(rt, stop)
        caller.login()
        print("READY", flush=True)
        caller.run()
        cobalt_trace_openstack.shutdown()
        return 0

    if topo.broker_port:
        _wait_for_broker(topo.broker_host, topo.broker_port, stop)
    else:
        _prepare_filesystem_transport()
    conf = rpc.make_conf(name)
    rt.transport = om.get_rpc_transport(conf, url=topo.transport_url)
    notification_transport = om.get_notification_transport(conf, url=topo.transport_url)
    parts = _rpc_parts(name, rt, notification_transport)
    for part in parts:
        part.start()

    http = None
    if spec.port:
        from .pipeline import load_api

        app = load_api(name, topology_path.parent)
        http = make_server(
            topo.apis[name].split("//")[1].split(":")[0],
            spec.port,
            app,
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        threading.Thread(target=http.serve_forever, name="wsgi", daemon=True).start()
    if name == "ha-agent":
        threading.Thread(target=_ha_checks, args=(rt, stop), name="ha-check", daemon=True).start()

    print("READY", flush=True)
    stop.wait()
    if http is not None:
        http.shutdown()
    for part in parts:
        part.stop()
    for part in parts:
        part.wait()
    rt.transport.cleanup()
    notification_transport.cleanup()
    cobalt_trace_openstack.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cobalt_trace.demo.openstack.service", description=__doc__)
    parser.add_argument("name")
    parser.add_argument("--topology", required=True, type=Path)
    parser.add_argument("--index", type=int, default=0, help="which gateway replica to export to")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format=f"%(asctime)s {args.name} %(levelname)s %(name)s: %(message)s"
    )
    return run(args.name, args.topology, args.index)


if __name__ == "__main__":
    sys.exit(main())
