"""`cobalt-trace demo` / `make demo`: the seed's topology on one machine.

management (127.0.1.1)      central collector: OTLP/gRPC over mutual TLS in, trace store, query
                            API and UI (127.0.0.1:3200); the Greenhouse-like caller
control plane (127.0.2.x)   two gateway replicas with trace-id routing and the seed's tail
                            sampling; keystone, nova-api/-conductor/-scheduler, neutron-server,
                            glance-api, cinder-api; the message broker
hypervisor (127.0.3.1)      gateway; nova-compute, neutron-openvswitch-agent, ha-agent
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..components.processors.tail_sampling.policies.probabilistic import (
    DEFAULT_HASH_SALT,
    fnv1a_64,
    sampling_threshold,
)
from .broker import Broker, choose_broker
from .certs import issue_cert, make_ca
from .supervisor import Supervisor, die_with_parent
from .topology import CALLER, CLUSTERS, CONTROL_PLANE, HYPERVISOR, MANAGEMENT, SERVICES, make_topology

__all__ = ["DemoOptions", "run_demo", "find_demo_configs", "kept_by_probability", "process_age"]

BROKER_PORT = 5672
REPLICAS = ("127.0.2.1", "127.0.2.2")  # the control-plane gateway replicas
START_TIMEOUT = 120.0


@dataclass
class DemoOptions:
    duration: float = 0.0  # seconds of workload; 0 = until Ctrl-C
    rate: float = 2.0  # caller flows per second
    error_rate: float = 0.05
    slow_rate: float = 0.05
    transport: str = "auto"  # auto | rabbitmq | memory
    state_dir: Path = Path(".demo")
    ui: str = "127.0.0.1:3200"
    decision_wait: str = "5s"
    batch_timeout: str = "1s"
    seed: int = 0

    def validate(self) -> list[str]:
        errors = []
        if self.duration < 0:
            errors.append(f"--duration must not be negative, got {self.duration}")
        if not 0 < self.rate <= 200:
            errors.append(f"--rate must be in (0, 200] flows per second, got {self.rate}")
        for name, value in (("--error-rate", self.error_rate), ("--slow-rate", self.slow_rate)):
            if not 0 <= value <= 1:
                errors.append(f"{name} must be a fraction in [0, 1], got {value}")
        if self.error_rate + self.slow_rate > 1:
            errors.append("--error-rate plus --slow-rate must not exceed 1")
        if self.transport not in ("auto", "rabbitmq", "memory"):
            errors.append(f"--transport must be auto, rabbitmq or memory, got {self.transport!r}")
        host, _, port = self.ui.rpartition(":")
        if not host or not port.isdigit():
            errors.append(f"--ui must be host:port, got {self.ui!r}")
        return errors


def find_demo_configs() -> Path:
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        if (base / "examples" / "demo" / "central.yaml").is_file():
            return base / "examples" / "demo"
    raise RuntimeError("examples/demo/central.yaml not found: run the demo from the cobalt-trace checkout")


def kept_by_probability(trace_id_hex: str, percentage: float = 10.0) -> bool:
    """The gateways' probabilistic policy (default salt): is this trace in the kept 10%?"""
    seed = fnv1a_64(DEFAULT_HASH_SALT.encode())
    return fnv1a_64(bytes.fromhex(trace_id_hex), seed) <= sampling_threshold(percentage / 100)


def process_age() -> float:
    """Seconds since this process started (Linux /proc), else 0."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _since_start(started: float) -> float:
    """Seconds since the demo process started (interpreter start-up included where /proc tells)."""
    return process_age() or (time.monotonic() - started)


def _check_addresses(ui: str) -> None:
    addresses = [c.address for c in CLUSTERS.values()] + ["127.0.2.2"]
    for address in addresses:
        with socket.socket() as s:
            try:
                s.bind((address, 0))
            except OSError as exc:
                raise RuntimeError(
                    f"cannot bind {address} ({exc}); the demo puts each cluster on its own loopback "
                    "address, which Linux provides for all of 127.0.0.0/8"
                ) from None
    host, _, port = ui.rpartition(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError as exc:
            raise RuntimeError(f"UI address {ui} is not free ({exc}); choose another with --ui") from None


def _collector_env(state: Path, certs: Path, opts: DemoOptions) -> dict:
    ca = make_ca(certs)
    central = issue_cert(ca, certs, "central", [CLUSTERS[MANAGEMENT].address, "localhost"])
    gateway = issue_cert(ca, certs, "gateway", ["gateway"], client=True)
    return dict(
        os.environ,
        DEMO_CA_FILE=str(ca.cert),
        CENTRAL_CERT_FILE=str(central.cert),
        CENTRAL_KEY_FILE=str(central.key),
        GATEWAY_CERT_FILE=str(gateway.cert),
        GATEWAY_KEY_FILE=str(gateway.key),
        CENTRAL_ADDR=CLUSTERS[MANAGEMENT].address,
        CENTRAL_ENDPOINT=f"{CLUSTERS[MANAGEMENT].address}:4317",
        STORE_PATH=str(state / "store"),
        UI_ENDPOINT=opts.ui,
        DECISION_WAIT=opts.decision_wait,
        BATCH_TIMEOUT=opts.batch_timeout,
        REPLICA_1="127.0.2.1",
        REPLICA_2="127.0.2.2",
        GATEWAY_ADDR=CLUSTERS[HYPERVISOR].address,
    )


def _banner(opts: DemoOptions, broker: Broker, ui_url: str, started: float) -> str:
    lines = [
        "",
        "cobalt-trace demo: CobaltCore's tracing on one machine",
        f"  UI and query API   {ui_url}   (Tempo/Jaeger APIs for Grafana on the same address)",
        "  management         127.0.1.1  central collector (OTLP/gRPC + mTLS :4317, trace store), greenhouse",
        "  control plane      127.0.2.1  127.0.2.2  gateway replicas, trace-id routing + tail sampling;",
        "                     keystone :5000, nova-api :8774, neutron-server :9696, glance-api :9292,",
        "                     cinder-api :8776, nova-conductor, nova-scheduler",
        "  hypervisor         127.0.3.1  gateway; nova-compute, neutron-openvswitch-agent, ha-agent",
        f"  messaging          {broker.description}",
        f"  workload           {opts.rate:g} flows/s, {opts.error_rate:.0%} errors, {opts.slow_rate:.0%} slow (> 1 s)",
        f"  sampling           seed policies: errors, > 1 s, 10% of the rest; demo timings decision_wait "
        f"{opts.decision_wait} (seed: 30s), batch timeout {opts.batch_timeout} (seed: 5s)",
        f"  logs               {opts.state_dir / 'logs'}",
        f"  started in {_since_start(started):.1f}s; "
        + (f"runs {opts.duration:g}s" if opts.duration else "Ctrl-C stops everything"),
        "",
    ]
    return "\n".join(lines)


def _read_workload(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def _resolves(ui_url: str, request_id: str) -> bool:
    try:
        with urllib.request.urlopen(f"{ui_url}/api/cobalt/requests/{request_id}", timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _example_candidates(flows: list[dict]) -> list[dict]:
    """Flows the sampling policies keep for sure: errors, slow ones, and the hashed 10%."""
    return [
        f
        for f in flows
        if f.get("request_id")
        and f.get("trace_id")
        and (f.get("fault") or kept_by_probability(f["trace_id"]))
    ]


def _metric(url: str, name: str) -> float:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            try:
                total += float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
    return total


def run_demo(opts: DemoOptions) -> int:
    errors = opts.validate()
    if errors:
        for e in errors:
            print(f"cobalt-trace demo: {e}", file=sys.stderr)
        return 2
    started = time.monotonic()
    # SIGTERM (a CI runner, `kill`) stops the demo as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        configs = find_demo_configs()
        _check_addresses(opts.ui)
    except RuntimeError as exc:
        print(f"cobalt-trace demo: {exc}", file=sys.stderr)
        return 2
    state = opts.state_dir.resolve()
    run_dir = state / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    workload_log = run_dir / "workload.jsonl"
    workload_log.write_text("")
    env = _collector_env(state, state / "certs", opts)
    broker = choose_broker(opts.transport, CLUSTERS[CONTROL_PLANE].address, BROKER_PORT, state)
    host, _, port = opts.ui.rpartition(":")
    ui_url = f"http://{host}:{port}"
    topo = make_topology(
        broker.url,
        CLUSTERS[CONTROL_PLANE].address,
        BROKER_PORT if broker.kind == "rabbitmq" else 0,
        ui_url=ui_url,
        rate=opts.rate,
        error_rate=opts.error_rate,
        slow_rate=opts.slow_rate,
        seed=opts.seed,
        workload_log=str(workload_log),
    )
    topology_path = run_dir / "topology.json"
    topo.save(topology_path)
    sup = Supervisor(state / "logs")
    collector = [sys.executable, "-m", "cobalt_trace.cli.main", "collector", "--config"]
    try:
        broker.start(preexec_fn=die_with_parent)
        central = sup.spawn("central", collector + [str(configs / "central.yaml")], env)
        replicas = [
            sup.spawn(
                f"gateway-cp-{i + 1}",
                collector + [str(configs / "gateway-control-plane.yaml")],
                {**env, "REPLICA_ADDR": addr},
            )
            for i, addr in enumerate(REPLICAS)
        ]
        hv_gateway = sup.spawn("gateway-hv", collector + [str(configs / "gateway-hypervisor.yaml")], env)
        service_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        services = [
            sup.spawn(
                spec.name,
                [
                    sys.executable,
                    "-m",
                    "cobalt_trace.demo.openstack.service",
                    spec.name,
                    "--topology",
                    str(topology_path),
                    "--index",
                    str(i),
                ],
                service_env,
                cwd=broker.workdir or str(run_dir),
                ready_line=True,
            )
            for i, spec in enumerate(SERVICES)
        ]
        sup.wait_healthy(central, "http://127.0.1.1:13133/", START_TIMEOUT)
        for child, addr in zip(replicas, REPLICAS, strict=True):
            sup.wait_healthy(child, f"http://{addr}:13133/", START_TIMEOUT)
        sup.wait_healthy(hv_gateway, "http://127.0.3.1:13133/", START_TIMEOUT)
        broker.wait_ready(START_TIMEOUT)
        sup.wait_ready_lines(services, START_TIMEOUT)
        caller = sup.spawn(
            CALLER.name,
            [
                sys.executable,
                "-m",
                "cobalt_trace.demo.openstack.service",
                CALLER.name,
                "--topology",
                str(topology_path),
            ],
            service_env,
            cwd=str(run_dir),
            ready_line=True,
        )
        sup.wait_ready_lines([caller], START_TIMEOUT)
        workload_started = time.monotonic()
        print(_banner(opts, broker, ui_url, started), flush=True)
        _watch(opts, sup, ui_url, workload_log, started, workload_started)
        return 0
    except KeyboardInterrupt:
        print("\ncobalt-trace demo: stopping", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"cobalt-trace demo: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop([CALLER.name])
        sup.stop([s.name for s in SERVICES])
        sup.stop(["gateway-cp-1", "gateway-cp-2", "gateway-hv"])
        sup.stop(["central"])
        broker.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _watch(
    opts: DemoOptions, sup: Supervisor, ui_url: str, workload_log: Path, started, workload_started
) -> None:
    """Until --duration or Ctrl-C: announce the first visible trace, then a status line every 10 s."""
    example = None
    next_status = time.monotonic() + 10
    while True:
        now = time.monotonic()
        if opts.duration and now - workload_started >= opts.duration:
            print(f"cobalt-trace demo: {opts.duration:g}s done, stopping", flush=True)
            return
        dead = sup.dead()
        if dead:
            c = dead[0]
            raise RuntimeError(f"{c.name} exited with {c.proc.returncode}; last log lines:\n{c.tail()}")
        flows = _read_workload(workload_log)
        if example is None:
            for f in _example_candidates(flows)[:5]:
                if _resolves(ui_url, f["request_id"]):
                    example = f
                    print(
                        f"first trace visible {_since_start(started):.1f}s after start: "
                        f"example request id {f['request_id']} ({f['flow']})\n"
                        f"  {ui_url}/request/{f['request_id']}\n"
                        f"  {ui_url}/trace/{f['trace_id']}",
                        flush=True,
                    )
                    break
        if now >= next_status:
            failed = sum(1 for f in flows if f.get("status", 0) >= 500 or f.get("status") == 0)
            spans = _metric("http://127.0.1.1:8888/metrics", "otelcol_receiver_accepted_spans")
            print(
                f"{now - workload_started:6.0f}s  flows {len(flows):5d}  failed {failed:4d}  "
                f"spans stored by the central collector {spans:8.0f}",
                flush=True,
            )
            next_status = now + 10
        time.sleep(0.5)
