"""`make demo` until the all-in-one topology exists: a gateway with examples/gateway.yaml fed by
the load generator, forwarding over TLS to a central collector, with throughput printed live."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..loadgen.client import LoadConfig, run_load
from .certs import issue_cert, make_ca

__all__ = ["run_demo", "find_examples"]

GATEWAY_METRICS = "127.0.0.1:8888"
CENTRAL_METRICS = "127.0.0.1:8889"


def find_examples() -> Path:
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        if (base / "examples" / "gateway.yaml").is_file():
            return base / "examples"
    raise SystemExit("examples/gateway.yaml not found: run the demo from the cobalt-trace checkout")


def _metric(endpoint: str, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://{endpoint}/metrics", timeout=2).read().decode()
    except OSError:
        return 0.0
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"collector exited with {proc.returncode}; see its log")
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not become healthy within {timeout:.0f}s")


def run_demo(duration: float = 0.0, rate: float = 20000.0) -> int:
    examples = find_examples()
    state = Path(os.environ.get("COBALT_DEMO_DIR", ".demo")).resolve()
    ca = make_ca(state / "certs")
    central_cert = issue_cert(ca, state / "certs", "central", ["127.0.0.1", "localhost"])
    env = dict(
        os.environ,
        CENTRAL_CA_FILE=str(ca.cert),
        CENTRAL_CERT_FILE=str(central_cert.cert),
        CENTRAL_KEY_FILE=str(central_cert.key),
        GATEWAY_METRICS_ENDPOINT=GATEWAY_METRICS,
        CENTRAL_METRICS_ENDPOINT=CENTRAL_METRICS,
    )
    cmd = [sys.executable, "-m", "cobalt_trace.cli.main", "collector", "--config"]
    procs: list[subprocess.Popen] = []
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        central = subprocess.Popen(
            cmd + [str(examples / "central.yaml")], env=env, stderr=(logs / "central.log").open("wb")
        )  # noqa: SIM115 - lives as long as the child
        procs.append(central)
        _wait_healthy("http://127.0.0.1:13134/", central)
        gateway = subprocess.Popen(
            cmd + [str(examples / "gateway.yaml")], env=env, stderr=(logs / "gateway.log").open("wb")
        )  # noqa: SIM115 - lives as long as the child
        procs.append(gateway)
        _wait_healthy("http://127.0.0.1:13133/", gateway)
        print(
            "cobalt-trace demo: loadgen → gateway (127.0.0.1:4317, cluster=control-plane) "
            "→ TLS → central collector (127.0.0.1:14317)"
        )
        print(f"  gateway metrics http://{GATEWAY_METRICS}/metrics, logs in {logs}; Ctrl-C stops")
        return asyncio.run(_drive(duration, rate))
    except KeyboardInterrupt:
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()


async def _drive(duration: float, rate: float) -> int:
    cfg = LoadConfig(endpoint="127.0.0.1:4317", rate=rate, duration=duration or 10**9, progress=False)
    load = asyncio.create_task(run_load(cfg))
    start, last = time.monotonic(), 0.0
    try:
        while not load.done():
            await asyncio.sleep(2.0)
            accepted = _metric(GATEWAY_METRICS, "otelcol_receiver_accepted_spans")
            sent = _metric(GATEWAY_METRICS, "otelcol_exporter_sent_spans")
            central = _metric(CENTRAL_METRICS, "otelcol_receiver_accepted_spans")
            elapsed = time.monotonic() - start
            print(
                f"{elapsed:6.0f}s  gateway accepted {accepted:>12,.0f}  forwarded {sent:>12,.0f}  "
                f"central received {central:>12,.0f}  ({(accepted - last) / 2:,.0f} spans/s)",
                flush=True,
            )
            last = accepted
    except asyncio.CancelledError:
        pass
    result = await load
    print(
        f"loadgen sent {result.sent_spans:,} spans ({result.spans_per_second:,.0f}/s), "
        f"failed requests {result.failed_requests}"
    )
    return 0
