"""Gateway throughput per core: otlp → resource → batch → otlp, gRPC on both sides.

Processes: the gateway (`cobalt-trace collector`) pinned to core 0; the load generator
(`cobalt-trace loadgen`, 8 requests of 1024 spans in flight) and the sink on core 1.  The figure
is spans accepted by the gateway per gateway CPU-second (utime+stime from /proc), so it does not
depend on how busy core 1 is.  The ceiling is the same load against a gRPC server that only
acknowledges, measured in the same run.

    .venv/bin/python bench/gateway.py [--duration 20] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, cpu_seconds, free_port, machine, taskset, wait_port, write_section

PY = sys.executable
CLI = [PY, "-m", "cobalt_trace.cli.main"]

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  batch: {{timeout: 5s, send_batch_size: 1024}}
  resource:
    attributes: [{{key: cluster, value: control-plane, action: upsert}}]
exporters:
  otlp:
    endpoint: "127.0.0.1:{sink}"
    tls: {{insecure: true}}
    compression: {compression}
service:
  pipelines:
    traces: {{receivers: [otlp], processors: [resource, batch], exporters: [otlp]}}
  telemetry:
    metrics: {{level: none}}
"""


def loadgen(endpoint: str, protocol: str, duration: float) -> int:
    out = subprocess.run(
        taskset(1)
        + CLI
        + [
            "loadgen",
            "--endpoint",
            endpoint,
            "--protocol",
            protocol,
            "--duration",
            str(duration),
            "--concurrency",
            "8",
            "--spans-per-request",
            "1024",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"sent ([\d,]+) spans", out)
    if not m:
        raise RuntimeError(f"unexpected loadgen output: {out!r}")
    return int(m.group(1).replace(",", ""))


def measure(server: subprocess.Popen, endpoint: str, protocol: str, duration: float) -> tuple[int, float]:
    before = cpu_seconds(server.pid)
    spans = loadgen(endpoint, protocol, duration)
    time.sleep(1.0)  # let the last batches leave the gateway
    return spans, cpu_seconds(server.pid) - before


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_gateway(tmp: Path, compression: str, protocol: str, duration: float) -> tuple[int, float]:
    sink_port, grpc_port, http_port = free_port(), free_port(), free_port()
    sink = subprocess.Popen(taskset(1) + [PY, str(ROOT / "bench" / "sink.py"), "--port", str(sink_port)])
    cfg = tmp / f"gateway-{compression}-{protocol}.yaml"
    cfg.write_text(CONFIG.format(grpc=grpc_port, http=http_port, sink=sink_port, compression=compression))
    gw = subprocess.Popen(taskset(0) + CLI + ["collector", "--config", str(cfg)], stderr=subprocess.DEVNULL)
    try:
        wait_port(sink_port)
        wait_port(grpc_port)
        wait_port(http_port)
        endpoint = f"127.0.0.1:{grpc_port}" if protocol == "grpc" else f"http://127.0.0.1:{http_port}"
        loadgen(endpoint, protocol, 3)  # warm-up
        return measure(gw, endpoint, protocol, duration)
    finally:
        stop(gw)
        stop(sink)


def run_ceiling(duration: float) -> tuple[int, float]:
    port = free_port()
    sink = subprocess.Popen(
        taskset(0) + [PY, str(ROOT / "bench" / "sink.py"), "--port", str(port), "--mode", "ack"]
    )
    try:
        wait_port(port)
        loadgen(f"127.0.0.1:{port}", "grpc", 3)
        return measure(sink, f"127.0.0.1:{port}", "grpc", duration)
    finally:
        stop(sink)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    os.chdir(ROOT)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        scenarios = [
            ("gRPC server that only acknowledges (ceiling)", lambda: run_ceiling(args.duration)),
            (
                "gateway, OTLP/gRPC in → gRPC out, compression none",
                lambda: run_gateway(Path(tmp), "none", "grpc", args.duration),
            ),
            (
                "gateway, OTLP/gRPC in → gRPC out, gzip (exporter default)",
                lambda: run_gateway(Path(tmp), "gzip", "grpc", args.duration),
            ),
            (
                "gateway, OTLP/HTTP protobuf in → gRPC out, compression none",
                lambda: run_gateway(Path(tmp), "none", "http", args.duration),
            ),
        ]
        for name, fn in scenarios:
            spans, cpu = fn()
            rate = spans / cpu if cpu else 0.0
            rows.append((name, spans, cpu, rate))
            print(f"{name}: {spans:,} spans, {cpu:.1f} CPU-s → {rate:,.0f} spans per CPU-second", flush=True)
    table = ["| scenario | spans | server CPU-s | spans per server CPU-second |", "|---|---:|---:|---:|"]
    table += [f"| {n} | {s:,} | {c:.1f} | **{r:,.0f}** |" for n, s, c, r in rows]
    body = (
        f"`python bench/gateway.py --duration {args.duration:g}` — machine: {machine()}.\n\n"
        "Server pinned to core 0; load generator (8 × 1024-span requests in flight, ~300 B/span OpenStack spans) "
        "and sink on core 1. Pipeline: otlp → resource (upsert `cluster`) → batch (1024, 5s) → otlp. "
        "Targets: ≥ 400,000 spans/s per core over gRPC, ≥ 300,000 over HTTP.\n\n" + "\n".join(table)
    )
    print("\n" + body)
    if not args.no_write:
        write_section("Gateway throughput (bench/gateway.py)", body)


if __name__ == "__main__":
    main()
