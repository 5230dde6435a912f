"""The seed's collector config, as a real gateway process, forwarding over mTLS to a second
collector: what the official OpenTelemetry SDK exporters send arrives with `cluster` upserted on
every resource and byte-identical otherwise."""

from __future__ import annotations

import time

import yaml
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from cobalt_testkit import FIXTURES, free_port, wait_port
from cobalt_trace.wire.otlp_json import traces_from_json


def gateway_config(grpc_port, http_port, central_port, pki) -> str:
    """The seed config minus tail_sampling, addresses on loopback, the exporter trusting the test CA."""
    cfg = yaml.safe_load((FIXTURES / "seed-config.yaml").read_text())
    del cfg["processors"]["tail_sampling"]
    cfg["service"]["pipelines"]["traces"]["processors"].remove("tail_sampling")
    cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = f"127.0.0.1:{grpc_port}"
    cfg["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = f"127.0.0.1:{http_port}"
    cfg["exporters"]["otlp"]["endpoint"] = f"127.0.0.1:{central_port}"
    cfg["exporters"]["otlp"]["tls"].update(
        ca_file=str(pki.ca.cert), cert_file=str(pki.client.cert), key_file=str(pki.client.key)
    )
    cfg["service"]["telemetry"] = {"metrics": {"level": "none"}}
    return yaml.safe_dump(cfg)


def central_config(port, out_path, pki) -> str:
    return yaml.safe_dump(
        {
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {
                            "endpoint": f"127.0.0.1:{port}",
                            "tls": {
                                "cert_file": str(pki.server.cert),
                                "key_file": str(pki.server.key),
                                "client_ca_file": str(pki.ca.cert),
                            },
                        }
                    }
                }
            },
            "exporters": {"file": {"path": str(out_path)}},
            "service": {
                "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["file"]}},
                "telemetry": {"metrics": {"level": "none"}},
            },
        }
    )


def make_spans(exporter, service: str, n: int):
    """Spans with attributes, events, links and statuses, exported by `exporter` and recorded."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service, "host.name": "ctl-001"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("cobalt.test", "1.0")
    previous = None
    for i in range(n):
        links = [Link(previous.get_span_context(), {"link.i": i})] if previous else []
        with tracer.start_as_current_span(
            f"POST /v2.1/servers/{i}", kind=SpanKind.SERVER, links=links
        ) as root:
            root.set_attributes(
                {
                    "http.request.method": "POST",
                    "http.response.status_code": 202,
                    "openstack.request_id": f"req-{i:08d}",
                    "ratio": 0.5,
                    "ok": True,
                }
            )
            root.add_event("validated", {"fields": 3})
            with tracer.start_as_current_span("send compute", kind=SpanKind.PRODUCER) as child:
                if i % 3 == 0:
                    child.set_status(Status(StatusCode.ERROR, "rpc timeout"))
            previous = root
    provider.shutdown()
    return memory.get_finished_spans()


def read_output(path) -> list[ExportTraceServiceRequest]:
    if not path.exists():
        return []
    return [
        ExportTraceServiceRequest.FromString(traces_from_json(line.encode()))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def test_seed_gateway_forwards_sdk_spans_over_mtls(collectors, pki, tmp_path):
    central_port, grpc_port, http_port = free_port(), free_port(), free_port()
    out = tmp_path / "central-out.json"
    central = collectors(central_config(central_port, out, pki), "central")
    wait_port(central_port, central.proc)
    gateway = collectors(gateway_config(grpc_port, http_port, central_port, pki), "gateway")
    wait_port(grpc_port, gateway.proc)
    wait_port(http_port, gateway.proc)

    sent = make_spans(GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True), "nova-api", 20)
    sent += make_spans(HttpExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/traces"), "neutron-server", 20)
    expected = encode_spans(sent)

    deadline = time.monotonic() + 30  # the seed's batch timeout is 5 s
    received: list[ExportTraceServiceRequest] = []
    while time.monotonic() < deadline:
        received = read_output(out)
        if sum(len(ss.spans) for r in received for rs in r.resource_spans for ss in rs.scope_spans) >= len(
            sent
        ):
            break
        time.sleep(0.2)

    got_spans, expected_spans = {}, {}
    for req, target in ((expected, expected_spans), *((r, got_spans) for r in received)):
        for rs in req.resource_spans:
            attrs = {kv.key: kv.value for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    target[span.span_id] = (span.SerializeToString(deterministic=True), attrs, ss.scope)
    assert len(got_spans) == len(sent) == 80
    assert set(got_spans) == set(expected_spans)
    for span_id, (span_bytes, attrs, scope) in got_spans.items():
        exp_bytes, exp_attrs, exp_scope = expected_spans[span_id]
        assert span_bytes == exp_bytes  # ids, attributes, events, links, status: unchanged
        assert scope == exp_scope
        assert attrs.pop("cluster").string_value == "control-plane"
        assert attrs == exp_attrs

    assert gateway.stop() == 0, gateway.output()
    assert central.stop() == 0, central.output()


def test_validate_accepts_the_seed_config_without_tail_sampling(tmp_path, pki):
    import subprocess
    import sys

    cfg = tmp_path / "gw.yaml"
    cfg.write_text(gateway_config(4317, 4318, 14317, pki))
    res = subprocess.run(
        [sys.executable, "-m", "cobalt_trace.cli.main", "validate", "--config", str(cfg)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
