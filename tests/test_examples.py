"""Every shipped example config validates, and the seed's full config (tail sampling included)
runs as a gateway: an error trace goes through, a plain fast trace outside the 10% is dropped."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from cobalt_testkit import FIXTURES, ROOT, free_port, wait_port
from test_e2e_seed_gateway import central_config, read_output
from test_e2e_tail_sampling_replicas import kept_by_probability

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates(path: Path, pki):
    env = {
        "CENTRAL_CA_FILE": str(pki.ca.cert),
        "CENTRAL_CERT_FILE": str(pki.server.cert),
        "CENTRAL_KEY_FILE": str(pki.server.key),
        "PATH": "/usr/bin:/bin",
    }
    res = subprocess.run(
        [sys.executable, "-m", "cobalt_trace.cli.main", "validate", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr


def seed_config(grpc_port, http_port, central_port, pki) -> str:
    cfg = yaml.safe_load((FIXTURES / "seed-config.yaml").read_text())
    cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = f"127.0.0.1:{grpc_port}"
    cfg["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = f"127.0.0.1:{http_port}"
    cfg["processors"]["tail_sampling"]["decision_wait"] = "1s"
    cfg["exporters"]["otlp"]["endpoint"] = f"127.0.0.1:{central_port}"
    cfg["exporters"]["otlp"]["tls"].update(
        ca_file=str(pki.ca.cert), cert_file=str(pki.client.cert), key_file=str(pki.client.key)
    )
    cfg["service"]["telemetry"] = {"metrics": {"level": "none"}}
    return yaml.safe_dump(cfg)


def trace(trace_id: bytes, error: bool) -> ExportTraceServiceRequest:
    now = time.time_ns()
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "nova-api"
    ss = rs.scope_spans.add()
    for i in range(3):
        span = ss.spans.add(
            trace_id=trace_id,
            span_id=bytes([i + 1]) * 8,
            name=f"op{i}",
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=now - 5_000_000,
            end_time_unix_nano=now,
        )
        if error and i == 2:
            span.status.code = Status.STATUS_CODE_ERROR
    return req


def test_seed_config_with_tail_sampling_runs(collectors, pki, tmp_path):
    central_port, grpc_port, http_port = free_port(), free_port(), free_port()
    out = tmp_path / "central.json"
    central = collectors(central_config(central_port, out, pki), "central")
    gateway = collectors(seed_config(grpc_port, http_port, central_port, pki), "gateway")
    wait_port(central_port, central.proc)
    wait_port(grpc_port, gateway.proc)

    error_id = bytes(range(16))
    plain_id = next(t for t in (bytes([i]) * 16 for i in range(1, 255)) if not kept_by_probability(t))
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        export(trace(error_id, error=True).SerializeToString(), timeout=10)
        export(trace(plain_id, error=False).SerializeToString(), timeout=10)

    deadline = time.monotonic() + 20  # decision_wait 1 s, then the seed's 5 s batch timeout
    seen: set[bytes] = set()
    while time.monotonic() < deadline and error_id not in seen:
        time.sleep(0.3)
        seen = {
            s.trace_id
            for r in read_output(out)
            for rs in r.resource_spans
            for ss in rs.scope_spans
            for s in ss.spans
        }
    assert gateway.stop() == 0, gateway.output()
    central.stop()
    spans = [
        s for r in read_output(out) for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans
    ]
    assert sorted({s.trace_id for s in spans}) == [error_id]
    assert len(spans) == 3
