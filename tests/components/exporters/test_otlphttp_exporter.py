"""The otlp_http (otlphttp) exporter against a real HTTP server on loopback."""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import ssl
import zlib

import cramjam
import pytest
from exporter_testkit import decode_ok, make_batch, make_certs, make_settings, run
from http_sink import HttpSink, Reply
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from cobalt_trace.components.exporters.otlphttp.codec import parse_retry_after
from cobalt_trace.components.exporters.otlphttp.factory import FACTORY
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.errors import PermanentError, RetryableError
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry

FAST = {"initial_interval": "1ms", "max_interval": "5ms", "max_elapsed_time": "5s", "randomization_factor": 0}


def config(port: int, scheme: str = "http", **extra) -> dict:
    raw = {
        "endpoint": f"{scheme}://127.0.0.1:{port}",
        "retry_on_failure": FAST,
        "sending_queue": {"enabled": False},
    }
    raw.update(extra)
    return raw


def export(raw: dict, *batches, patch_sleep=None, host=None):
    """Start an exporter from `raw`, consume `batches`, shut down; returns (settings, errors)."""
    settings = make_settings("otlphttp")
    exporter = FACTORY.create(settings, decode_ok(FACTORY.config_type, raw))
    if patch_sleep is not None:
        exporter._helper._sleep_unless_stopping = patch_sleep
    errors = []

    async def go():
        await exporter.start(host or Host(Telemetry()))
        try:
            for b in batches:
                try:
                    await exporter.consume(b)
                except Exception as exc:  # collected for the test to look at
                    errors.append(exc)
        finally:
            await exporter.shutdown()

    run(go())
    return settings, errors


def test_factory_type_and_alias():
    assert FACTORY.type == "otlp_http" and "otlphttp" in FACTORY.aliases


def test_posts_gzip_protobuf_with_headers_over_one_connection():
    batches = [make_batch(3), make_batch(2)]
    with HttpSink() as sink:
        settings, errors = export(config(sink.port, headers={"Authorization": "Bearer t0k"}), *batches)
    assert errors == []
    assert [r.path for r in sink.received] == ["/v1/traces", "/v1/traces"]
    first = sink.received[0]
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["content-type"] == "application/x-protobuf"
    assert first.headers["authorization"] == "Bearer t0k"
    assert [gzip.decompress(r.body) for r in sink.received] == [b.to_bytes() for b in batches]
    assert sink.received[0].client_port == sink.received[1].client_port  # keep-alive reused the connection
    assert settings.telemetry.metrics.get("otelcol_exporter_sent_spans").value(exporter="otlphttp") == 5


@pytest.mark.parametrize(
    ("codec", "decompress"),
    [
        ("none", bytes),
        ("zstd", lambda b: bytes(cramjam.zstd.decompress(b))),
        ("snappy", lambda b: bytes(cramjam.snappy.decompress_raw(b))),
        ("zlib", zlib.decompress),
        ("deflate", zlib.decompress),
        ("lz4", lambda b: bytes(cramjam.lz4.decompress(b))),
    ],
)
def test_compressions(codec, decompress):
    batch = make_batch(4)
    with HttpSink() as sink:
        _, errors = export(config(sink.port, compression=codec), batch)
    assert errors == []
    got = sink.received[0]
    assert got.headers.get("content-encoding") == (None if codec == "none" else codec)
    assert decompress(got.body) == batch.to_bytes()


def test_traces_endpoint_overrides_the_path():
    with HttpSink() as sink:
        export(
            config(sink.port, traces_endpoint=f"http://127.0.0.1:{sink.port}/custom/traces"), make_batch(1)
        )
    assert sink.received[0].path == "/custom/traces"


def test_json_encoding():
    pytest.importorskip("cobalt_trace.wire.otlp_json")
    batch = make_batch(2)
    with HttpSink() as sink:
        _, errors = export(config(sink.port, encoding="json", compression="none"), batch)
    assert errors == []
    got = sink.received[0]
    assert got.headers["content-type"] == "application/json"
    doc = json.loads(got.body)
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == bytes(range(1, 17)).hex()
    assert span["name"] == "GET /servers/0"


def test_retryable_statuses_are_retried():
    with HttpSink() as sink:
        sink.script = [Reply(503), Reply(502), Reply(504), Reply(429)]
        _, errors = export(config(sink.port), make_batch(1))
    assert errors == []
    assert len(sink.received) == 5


def test_bad_request_is_permanent_with_the_server_message():
    from google.rpc import status_pb2

    body = status_pb2.Status(code=3, message="span name missing").SerializeToString()
    with HttpSink() as sink:
        sink.script = [Reply(400, body)]
        _, errors = export(config(sink.port), make_batch(1))
    assert len(sink.received) == 1
    assert isinstance(errors[0], PermanentError)
    assert "HTTP Status Code 400, Message=span name missing" in str(errors[0])


def test_retry_after_is_honoured():
    delays = []

    async def record(delay):
        delays.append(delay)
        return False

    with HttpSink() as sink:
        sink.script = [Reply(429, headers={"Retry-After": "7"}), Reply(503, headers={"Retry-After": "3"})]
        raw = config(sink.port, retry_on_failure=dict(FAST, max_elapsed_time=0))
        _, errors = export(raw, make_batch(1), patch_sleep=record)
    assert errors == []
    assert delays == [7.0, 3.0]


def test_parse_retry_after_forms():
    assert parse_retry_after("12") == 12.0
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_partial_success_is_logged_not_retried(caplog):
    resp = trace_service_pb2.ExportTraceServiceResponse()
    resp.partial_success.rejected_spans = 1
    resp.partial_success.error_message = "span too large"
    with HttpSink() as sink:
        sink.script = [Reply(200, resp.SerializeToString())]
        with caplog.at_level(logging.WARNING):
            _, errors = export(config(sink.port), make_batch(2))
    assert errors == [] and len(sink.received) == 1
    assert "Partial success response" in caplog.text and "span too large" in caplog.text


def test_partial_success_in_json_response(caplog):
    body = json.dumps({"partialSuccess": {"rejectedSpans": "3", "errorMessage": "quota"}}).encode()
    with HttpSink() as sink:
        sink.script = [Reply(200, body, content_type="application/json")]
        with caplog.at_level(logging.WARNING):
            export(config(sink.port), make_batch(3))
    assert "dropped_spans=3" in caplog.text


def test_connection_refused_is_retryable():
    with HttpSink() as sink:
        port = sink.port
    _, errors = export(config(port, retry_on_failure={"enabled": False}), make_batch(1))
    assert isinstance(errors[0], RetryableError)


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory):
    c = make_certs()
    d = tmp_path_factory.mktemp("httpcerts")
    for name in ("ca_pem", "server_cert", "server_key", "client_cert", "client_key"):
        (d / f"{name}.pem").write_bytes(getattr(c, name))
    return d


def test_https_with_mutual_tls(cert_dir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_dir / "server_cert.pem", cert_dir / "server_key.pem")
    ctx.load_verify_locations(cert_dir / "ca_pem.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    tls = {
        "ca_file": str(cert_dir / "ca_pem.pem"),
        "cert_file": str(cert_dir / "client_cert.pem"),
        "key_file": str(cert_dir / "client_key.pem"),
    }
    batch = make_batch(2)
    with HttpSink(ctx) as sink:
        raw = config(sink.port, scheme="https", tls=tls, endpoint=f"https://localhost:{sink.port}")
        _, errors = export(raw, batch)
        assert errors == []
        # an unknown server certificate is refused
        raw = config(sink.port, scheme="https", retry_on_failure={"enabled": False})
        _, errors = export(raw, make_batch(1))
    assert [gzip.decompress(r.body) for r in sink.received] == [batch.to_bytes()]
    assert isinstance(errors[0], RetryableError)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "x::endpoint: at least one endpoint must be specified"),
        ({"endpoint": "collector:4318"}, "x::endpoint: 'collector:4318' must be a URL"),
        (
            {"endpoint": "http://c:4318", "compression": "brotli"},
            "x::compression: unsupported compression type",
        ),
        ({"endpoint": "http://c:4318", "encoding": "xml"}, "x::encoding: unsupported value 'xml'"),
        (
            {"endpoint": "http://c:4318", "auth": {"authenticator": "bad/"}},
            "x::auth::authenticator: name part",
        ),
    ],
)
def test_config_errors(raw, message):
    _, errors = decode(FACTORY.config_type, raw, "x")
    assert any(e.startswith(message) for e in errors), errors


def test_config_defaults():
    cfg = decode_ok(FACTORY.config_type, {"endpoint": "https://tempo:4318/"})
    assert cfg.traces_url == "https://tempo:4318/v1/traces"
    assert (cfg.encoding, cfg.compression, cfg.timeout) == ("proto", "gzip", 30)


def test_client_authenticator_adds_headers():
    from cobalt_trace.components.extensions.bearertokenauth.factory import FACTORY as BEARER
    from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind

    settings = CreateSettings(id=ComponentID("bearertokenauth"), kind=Kind.EXTENSION, telemetry=Telemetry())
    ext = BEARER.create(settings, decode_ok(BEARER.config_type, {"token": "t0k"}))
    host = Host(Telemetry(), {ComponentID("bearertokenauth"): ext})
    with HttpSink() as sink:
        _, errors = export(
            config(sink.port, auth={"authenticator": "bearertokenauth"}), make_batch(1), host=host
        )
    assert errors == []
    assert sink.received[0].headers["authorization"] == "Bearer t0k"
