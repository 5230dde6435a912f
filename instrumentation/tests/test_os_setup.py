"""setup(): options from arguments, oslo.config and OTEL_*; the provider; real OTLP export; bounded queue."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from oslo_config import cfg

from cobalt_trace_openstack.exporting import BoundedBatchSpanProcessor
from cobalt_trace_openstack.options import list_opts
from cobalt_trace_openstack.provider import build_resource
from cobalt_trace_openstack.settings import resolve

HERE = os.path.dirname(os.path.abspath(__file__))


def _conf(**overrides):
    conf = cfg.ConfigOpts()
    conf([], project="os-test")
    resolve("x", conf=conf)  # registers the group
    for name, value in overrides.items():
        conf.set_override(name, value, group="cobalt_trace")
    return conf


def test_options_precedence_arguments_then_oslo_config_then_env():
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318",
    }
    from_env = resolve("nova-api", env=env)
    assert from_env.protocol == "http/protobuf"
    assert from_env.endpoint is None  # the exporter itself reads OTEL_EXPORTER_OTLP_*
    conf = _conf(
        protocol="grpc", endpoint="http://conf:4317", cluster="cp-1", region="eu-de-1", sample_ratio=0.25
    )
    from_conf = resolve("nova-api", conf=conf, env=env)
    assert (from_conf.protocol, from_conf.endpoint, from_conf.cluster) == ("grpc", "http://conf:4317", "cp-1")
    assert from_conf.region == "eu-de-1" and from_conf.sample_ratio == 0.25
    from_args = resolve("nova-api", conf=conf, env=env, endpoint="http://arg:4317", cluster="cp-2")
    assert (from_args.endpoint, from_args.cluster) == ("http://arg:4317", "cp-2")


def test_disabled_by_env_or_config_and_bad_input_is_named():
    assert not resolve("a", env={"OTEL_SDK_DISABLED": "true"}).enabled
    assert not resolve("a", conf=_conf(enabled=False), env={}).enabled
    assert resolve("a", env={}).enabled
    with pytest.raises(ValueError, match="protocol"):
        resolve("a", env={"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"})
    with pytest.raises(ValueError, match="service_name"):
        resolve("", env={})


def test_list_opts_and_config_generator_entry_point(tmp_path):
    group, opts = list_opts()[0]
    assert group == "cobalt_trace"
    assert {"enabled", "endpoint", "protocol", "cluster", "capture_headers"} <= {o.name for o in opts}
    generator = os.path.join(os.path.dirname(sys.executable), "oslo-config-generator")
    out = tmp_path / "sample.conf"
    subprocess.run(
        [generator, "--namespace", "cobalt_trace_openstack", "--output-file", str(out)],
        check=True,
        timeout=60,
    )
    text = out.read_text()
    assert "[cobalt_trace]" in text and "#instrument_messaging = true" in text


def test_resource_attributes(monkeypatch):
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=qa,cluster=overridden")
    resource = build_resource(resolve("neutron-server", cluster="cp-1", conf=_conf(region="eu-de-1"), env={}))
    attrs = resource.attributes
    assert attrs["service.name"] == "neutron-server"
    assert attrs["service.namespace"] == "openstack"
    assert attrs["host.name"] and attrs["service.instance.id"].endswith(f":{os.getpid()}")
    assert attrs["cluster"] == "cp-1" and attrs["cloud.region"] == "eu-de-1"
    assert attrs["deployment.environment"] == "qa"


class _BlockingExporter(SpanExporter):
    def __init__(self):
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans):
        self.release.wait(10)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        self.release.set()


def test_full_queue_drops_and_counts_instead_of_blocking():
    exporter = _BlockingExporter()
    processor = BoundedBatchSpanProcessor(exporter, max_queue_size=8)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for i in range(200):
        tracer.start_span(f"s{i}").end()
    assert processor.dropped > 0
    exporter.release.set()
    provider.force_flush()
    assert exporter.exported + processor.dropped == 200
    provider.shutdown()


def _run(code: str, env_extra: dict, timeout=60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=HERE)
    for key in list(env):
        if key.startswith("OTEL_"):
            del env[key]
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


SERVICE_SCRIPT = """
    import webob
    from opentelemetry import trace
    import cobalt_trace_openstack
    from cobalt_trace_openstack import wsgi

    first = cobalt_trace_openstack.setup("glance-api", cluster="cp-1")
    second = cobalt_trace_openstack.setup("other-name", cluster="cp-2")
    assert first is second and trace.get_tracer_provider() is first, (first, second)
    app = wsgi.filter_factory({})(lambda e, s: (s("200 OK", []), [b"ok"])[1])
    for _ in range(int(__import__("os").environ.get("REQUESTS", "3"))):
        assert webob.Request.blank("/v2/images/5d1e8c9a2b3f4e6d8c7b1a2f3e4d5c6b").get_response(app).status_int == 200
    cobalt_trace_openstack.shutdown()
    print("dropped", cobalt_trace_openstack.dropped_spans())
"""


def test_setup_exports_over_otlp_http_once_even_if_called_twice(otlp_sink):
    result = _run(
        SERVICE_SCRIPT,
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_sink.endpoint,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        },
    )
    assert result.returncode == 0, result.stderr
    spans = otlp_sink.wait_for(lambda s: len(s) >= 3, timeout=10)
    assert [s.name for s in spans] == ["GET /v2/images/{id}"] * 3
    assert spans[0].resource["service.name"] == "glance-api" and spans[0].resource["cluster"] == "cp-1"


class _GrpcSink(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self):
        self.requests = []
        self.got = threading.Event()

    def Export(self, request, context):  # noqa: N802 - gRPC method name
        self.requests.append(request)
        self.got.set()
        return trace_service_pb2.ExportTraceServiceResponse()


def test_setup_exports_over_otlp_grpc_from_oslo_config(tmp_path):
    sink = _GrpcSink()
    server = grpc.server(futures.ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        conf_file = tmp_path / "svc.conf"
        conf_file.write_text(
            f"[cobalt_trace]\nendpoint = http://127.0.0.1:{port}\nprotocol = grpc\nregion = r1\n"
        )
        code = f"""
            from oslo_config import cfg
            import cobalt_trace_openstack
            conf = cfg.ConfigOpts()
            conf(["--config-file", {str(conf_file)!r}], project="os-test")
            cobalt_trace_openstack.setup("cinder-volume", conf=conf)
            with cobalt_trace_openstack.trace("volume.attach", volume_id="v1"):
                pass
            cobalt_trace_openstack.shutdown()
        """
        result = _run(code, {})
        assert result.returncode == 0, result.stderr
        assert sink.got.wait(10)
    finally:
        server.stop(None)
    rs = sink.requests[0].resource_spans[0]
    resource = {a.key: a.value.string_value for a in rs.resource.attributes}
    assert resource["service.name"] == "cinder-volume" and resource["cloud.region"] == "r1"
    assert rs.scope_spans[0].spans[0].name == "volume.attach"


def test_collector_down_requests_still_succeed_and_drops_are_counted():
    # A port nobody listens on; a tiny queue so the drop path is exercised.
    result = _run(
        SERVICE_SCRIPT,
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1",
            "OTEL_BSP_MAX_QUEUE_SIZE": "16",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "16",
            "REQUESTS": "500",
        },
    )
    assert result.returncode == 0, result.stderr
    dropped = int(result.stdout.split("dropped")[1])
    assert dropped > 0
    assert "Traceback" not in result.stderr


def test_disabled_setup_installs_nothing_and_the_filter_passes_through():
    code = """
        import oslo_messaging, requests, webob
        from opentelemetry import trace
        import cobalt_trace_openstack
        from cobalt_trace_openstack import wsgi
        assert cobalt_trace_openstack.setup("nova-api") is None
        assert cobalt_trace_openstack.setup("nova-api") is None
        assert not hasattr(oslo_messaging.get_rpc_client, "__wrapped__")
        assert not hasattr(requests.Session.send, "__wrapped__")
        mw = wsgi.filter_factory({})(lambda e, s: (s("200 OK", []), [b"ok"])[1])
        assert not mw.enabled
        assert webob.Request.blank("/").get_response(mw).status_int == 200
        print("ok")
    """
    result = _run(code, {"OTEL_SDK_DISABLED": "true"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
