"""The otlp_grpc (otlp) exporter against a real gRPC server on loopback."""

from __future__ import annotations

import logging

import grpc
import pytest
from exporter_testkit import decode_ok, make_batch, make_certs, make_settings, run
from grpc_sink import ByteCountingRelay, GrpcSink, partial_success_response, retry_info_trailers

from cobalt_trace.components.exporters.otlp.factory import FACTORY
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.errors import PermanentError, RetryableError
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry

FAST = {"initial_interval": "1ms", "max_interval": "5ms", "max_elapsed_time": "5s", "randomization_factor": 0}


def make_exporter(raw: dict, name: str = ""):
    settings = make_settings("otlp", name)
    config = decode_ok(FACTORY.config_type, raw)
    return FACTORY.create(settings, config), settings


async def started(exporter):
    await exporter.start(Host(Telemetry()))
    return exporter


def sync_config(port: int, **extra) -> dict:
    raw = {
        "endpoint": f"127.0.0.1:{port}",
        "tls": {"insecure": True},
        "retry_on_failure": FAST,
        "sending_queue": {"enabled": False},
    }
    raw.update(extra)
    return raw


def test_factory_type_and_alias():
    assert FACTORY.type == "otlp_grpc"
    assert "otlp" in FACTORY.aliases


def test_forwards_request_bytes_unchanged_with_headers():
    batch = make_batch(5)

    async def go():
        async with GrpcSink() as sink:
            exporter, settings = make_exporter(sync_config(sink.port, headers={"X-Scope-OrgID": "tenant-a"}))
            await started(exporter)
            await exporter.consume(batch)
            await exporter.shutdown()
            return sink, settings

    sink, settings = run(go())
    assert sink.requests == [batch.to_bytes()]
    assert sink.metadata[0]["x-scope-orgid"] == "tenant-a"
    assert "cobalt-trace" in sink.metadata[0]["user-agent"]
    assert settings.telemetry.metrics.get("otelcol_exporter_sent_spans").value(exporter="otlp") == 5


@pytest.mark.parametrize(("compression", "compressed"), [("gzip", True), ("none", False)])
def test_compression_on_the_wire(compression, compressed):
    batch = make_batch(20, filler="nova-compute " * 1000)
    size = len(batch.to_bytes())

    async def go():
        async with GrpcSink() as sink, ByteCountingRelay(sink.port) as relay:
            exporter, _ = make_exporter(sync_config(relay.port, compression=compression))
            await started(exporter)
            await exporter.consume(batch)
            await exporter.shutdown()
            return sink, relay

    sink, relay = run(go())
    assert sink.requests == [batch.to_bytes()]
    if compressed:
        assert relay.upstream_bytes < size / 10
    else:
        assert relay.upstream_bytes > size


def test_unavailable_is_retried_then_succeeds():
    async def go():
        async with GrpcSink() as sink:
            sink.script = [(grpc.StatusCode.UNAVAILABLE, "backend restarting", None)] * 2
            exporter, _ = make_exporter(sync_config(sink.port))
            await started(exporter)
            await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    sink = run(go())
    assert len(sink.requests) == 3


def test_invalid_argument_is_permanent():
    async def go():
        async with GrpcSink() as sink:
            sink.script = [(grpc.StatusCode.INVALID_ARGUMENT, "bad span", None)]
            exporter, _ = make_exporter(sync_config(sink.port))
            await started(exporter)
            with pytest.raises(PermanentError, match="INVALID_ARGUMENT desc = bad span"):
                await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    sink = run(go())
    assert len(sink.requests) == 1


def test_resource_exhausted_is_retried_only_with_retry_info(monkeypatch):
    delays = []

    async def go():
        async with GrpcSink() as sink:
            sink.script = [
                (
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "throttled",
                    retry_info_trailers(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.02),
                ),
                (grpc.StatusCode.RESOURCE_EXHAUSTED, "over quota", None),
            ]
            exporter, _ = make_exporter(sync_config(sink.port))
            real = exporter._helper._sleep_unless_stopping

            async def recording(delay):
                delays.append(delay)
                return await real(delay)

            monkeypatch.setattr(exporter._helper, "_sleep_unless_stopping", recording)
            await started(exporter)
            with pytest.raises(PermanentError, match="over quota"):
                await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    sink = run(go())
    assert len(sink.requests) == 2
    assert delays == [pytest.approx(0.02)]


def test_partial_success_is_logged_not_retried(caplog):
    async def go():
        async with GrpcSink() as sink:
            sink.script = [partial_success_response(2, "spans too old")]
            exporter, _ = make_exporter(sync_config(sink.port))
            await started(exporter)
            await exporter.consume(make_batch(3))
            await exporter.shutdown()
            return sink

    with caplog.at_level(logging.WARNING):
        sink = run(go())
    assert len(sink.requests) == 1
    assert "Partial success response" in caplog.text
    assert "spans too old" in caplog.text and "dropped_spans=2" in caplog.text


def test_unreachable_endpoint_fails_retryably_without_queue():
    async def go():
        async with GrpcSink() as sink:
            port = sink.port
        raw = sync_config(port, retry_on_failure={"enabled": False}, timeout="2s")
        exporter, _ = make_exporter(raw)
        await started(exporter)
        with pytest.raises(RetryableError, match="UNAVAILABLE"):
            await exporter.consume(make_batch(1))
        await exporter.shutdown()

    run(go())


def test_queued_export_is_drained_on_shutdown():
    async def go():
        async with GrpcSink() as sink:
            raw = sync_config(sink.port, sending_queue={"num_consumers": 2})
            exporter, settings = make_exporter(raw)
            await started(exporter)
            for _ in range(10):
                await exporter.consume(make_batch(2))
            await exporter.shutdown()
            return sink, settings

    sink, settings = run(go())
    assert len(sink.requests) == 10
    assert settings.telemetry.metrics.get("otelcol_exporter_sent_spans").value(exporter="otlp") == 20


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    c = make_certs()
    d = tmp_path_factory.mktemp("certs")
    for name in ("ca_pem", "server_cert", "server_key", "client_cert", "client_key"):
        (d / f"{name}.pem").write_bytes(getattr(c, name))
    c.dir = d
    return c


def test_tls_with_ca_file_and_mutual_auth(certs):
    creds = grpc.ssl_server_credentials(
        [(certs.server_key, certs.server_cert)], root_certificates=certs.ca_pem, require_client_auth=True
    )
    batch = make_batch(2)

    async def go():
        async with GrpcSink(creds) as sink:
            tls = {
                "ca_file": str(certs.dir / "ca_pem.pem"),
                "cert_file": str(certs.dir / "client_cert.pem"),
                "key_file": str(certs.dir / "client_key.pem"),
            }
            raw = sync_config(sink.port, endpoint=f"localhost:{sink.port}", tls=tls)
            exporter, _ = make_exporter(raw)
            await started(exporter)
            await exporter.consume(batch)
            await exporter.shutdown()

            # without a client certificate the server refuses the handshake
            no_client_cert = dict(raw, tls={"ca_file": tls["ca_file"]}, retry_on_failure={"enabled": False})
            exporter, _ = make_exporter(no_client_cert)
            await started(exporter)
            with pytest.raises(RetryableError, match="UNAVAILABLE"):
                await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    sink = run(go())
    assert sink.requests == [batch.to_bytes()]


def test_tls_server_name_override(certs):
    creds = grpc.ssl_server_credentials([(certs.server_key, certs.server_cert)])

    async def go():
        async with GrpcSink(creds) as sink:
            tls = {"ca_pem": certs.ca_pem.decode(), "server_name_override": "localhost"}
            # 127.0.0.1 is in the certificate too, so check with a name that is not: the override wins
            raw = sync_config(sink.port, endpoint=f"https://127.0.0.1:{sink.port}", tls=tls)
            exporter, _ = make_exporter(raw)
            await started(exporter)
            await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    assert len(run(go()).requests) == 1


def test_tls_insecure_skip_verify_trusts_the_presented_certificate(certs):
    creds = grpc.ssl_server_credentials([(certs.self_signed_key, certs.self_signed_cert)])

    async def go():
        async with GrpcSink(creds) as sink:
            raw = sync_config(sink.port, tls={"insecure_skip_verify": True})
            exporter, _ = make_exporter(raw)
            await started(exporter)
            await exporter.consume(make_batch(1))
            await exporter.shutdown()

            # and without skipping verification the unknown certificate is refused
            raw = sync_config(sink.port, tls={}, retry_on_failure={"enabled": False})
            exporter, _ = make_exporter(raw)
            await started(exporter)
            with pytest.raises(RetryableError, match="UNAVAILABLE"):
                await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    assert len(run(go()).requests) == 1


def test_tls_on_by_default_fails_against_plaintext_server():
    async def go():
        async with GrpcSink() as sink:
            raw = sync_config(sink.port, tls={}, retry_on_failure={"enabled": False})
            exporter, _ = make_exporter(raw)
            await started(exporter)
            with pytest.raises(RetryableError):
                await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    assert run(go()).requests == []


def test_http_scheme_means_insecure():
    async def go():
        async with GrpcSink() as sink:
            exporter, _ = make_exporter(
                sync_config(sink.port, endpoint=f"http://127.0.0.1:{sink.port}", tls={})
            )
            await started(exporter)
            await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    assert len(run(go()).requests) == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, 'x::endpoint: requires a non-empty "endpoint"'),
        ({"endpoint": "collector"}, "x::endpoint: 'collector' is not host:port"),
        (
            {"endpoint": "c:4317", "compression": "zstd"},
            "x::compression: 'zstd' is not supported by this gRPC exporter",
        ),
        ({"endpoint": "c:4317", "compression": "lz4"}, "x::compression: unsupported compression type 'lz4'"),
        ({"endpoint": "c:4317", "auth": {}}, "x::auth::authenticator: the id of a client authenticator"),
        (
            {"endpoint": "c:4317", "sending_queue": {"storage": "file_storage/"}},
            "x::sending_queue::storage: name part must be specified",
        ),
        (
            {"endpoint": "c:4317", "tls": {"ca_file": "/nonexistent/ca.pem"}},
            "x::tls::ca_file: file '/nonexistent/ca.pem' does not exist",
        ),
        (
            {"endpoint": "c:4317", "retry_on_failure": {"multiplier": 0}},
            "x::retry_on_failure::multiplier: must be positive",
        ),
    ],
)
def test_config_errors(raw, message):
    _, errors = decode(FACTORY.config_type, raw, "x")
    assert any(e.startswith(message) for e in errors), errors


def test_config_defaults_and_endpoint_forms():
    cfg = decode_ok(FACTORY.config_type, {"endpoint": "dns:///otel-collector.management.svc:4317"})
    assert cfg.target == "otel-collector.management.svc:4317"
    assert cfg.use_tls and cfg.compression == "gzip" and cfg.timeout == 5
    assert cfg.balancer_name == "round_robin"
    assert cfg.sending_queue.queue_size == 1000 and cfg.retry_on_failure.initial_interval == 5
    assert not decode_ok(FACTORY.config_type, {"endpoint": "c:4317", "tls": {"insecure": True}}).use_tls
    assert decode_ok(FACTORY.config_type, {"endpoint": "https://c:4317", "tls": {"insecure": True}}).use_tls
    assert decode_ok(FACTORY.config_type, {"endpoint": "[::1]:4317"}).target == "[::1]:4317"


def bearer_host(token: str) -> Host:
    from cobalt_trace.components.extensions.bearertokenauth.factory import FACTORY as BEARER
    from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind

    settings = CreateSettings(id=ComponentID("bearertokenauth"), kind=Kind.EXTENSION, telemetry=Telemetry())
    ext = BEARER.create(settings, decode_ok(BEARER.config_type, {"token": token}))
    return Host(Telemetry(), {ComponentID("bearertokenauth"): ext})


def test_client_authenticator_adds_metadata():
    async def go():
        async with GrpcSink() as sink:
            exporter, _ = make_exporter(sync_config(sink.port, auth={"authenticator": "bearertokenauth"}))
            await exporter.start(bearer_host("s3cret"))
            await exporter.consume(make_batch(1))
            await exporter.shutdown()
            return sink

    assert run(go()).metadata[0]["authorization"] == "Bearer s3cret"


def test_missing_authenticator_extension_fails_start():
    async def go():
        exporter, _ = make_exporter(sync_config(1, auth={"authenticator": "oauth2client"}))
        with pytest.raises(LookupError, match="oauth2client"):
            await exporter.start(Host(Telemetry()))
        await exporter.shutdown()

    run(go())
