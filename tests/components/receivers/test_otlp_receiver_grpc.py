"""otlp receiver over gRPC: the SDK exporter as client, raw grpc.aio calls for status codes,
RetryInfo, metadata, message size, TLS and mTLS."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_receiver_kit import EXPORT_METHOD, make_request, receiver, run, span_bytes

from cobalt_trace.pipeline.errors import PermanentError, RetryableError
from cobalt_trace.pipeline.telemetry import Telemetry

GRPC_ONLY = {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}


def sdk_spans(n: int = 3):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "nova-api"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("cobalt.test")
    with tracer.start_as_current_span("parent") as parent:
        parent.set_attribute("http.route", "/servers/{id}")
        for i in range(n - 1):
            with tracer.start_as_current_span(f"child-{i}") as child:
                child.add_event("retry", {"attempt": i})
    provider.shutdown()
    return memory.get_finished_spans()


async def export(port: int, body: bytes, *, metadata=(), credentials=None, compression=None, target=None):
    target = target or f"127.0.0.1:{port}"
    channel = (
        grpc.aio.secure_channel(target, credentials) if credentials else grpc.aio.insecure_channel(target)
    )
    async with channel:
        call = channel.unary_unary(EXPORT_METHOD)  # bytes in, bytes out
        return await call(body, metadata=metadata, timeout=10, compression=compression)


async def export_error(port: int, body: bytes, **kw) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await export(port, body, **kw)
    return info.value


def test_sdk_exporter_spans_arrive_byte_identical():
    spans = sdk_spans(3)
    expected = sorted(span_bytes(encode_spans(spans).SerializeToString()))

    async def scenario():
        async with receiver(GRPC_ONLY) as (rcv, sink):
            exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{rcv.grpc_port}", insecure=True, timeout=10)
            try:
                result = await asyncio.to_thread(exporter.export, spans)
            finally:
                exporter.shutdown()
            assert result is SpanExportResult.SUCCESS
            assert sorted(sink.spans()) == expected
            assert sink.clients[0].address == "127.0.0.1"
            assert sink.clients[0].metadata == {}  # include_metadata is off by default

    run(scenario())


def test_raw_request_passes_through_unchanged_and_gzip_is_accepted():
    body = make_request(4)

    async def scenario():
        async with receiver(GRPC_ONLY) as (rcv, sink):
            assert await export(rcv.grpc_port, body) == b""  # empty ExportTraceServiceResponse
            assert await export(rcv.grpc_port, body, compression=grpc.Compression.Gzip) == b""
            assert [b.to_bytes() for b in sink.batches] == [body, body]
            assert [b.span_count for b in sink.batches] == [4, 4]

    run(scenario())


def test_empty_request_is_ok_without_the_pipeline():
    async def scenario():
        async with receiver(GRPC_ONLY) as (rcv, sink):
            assert await export(rcv.grpc_port, b"") == b""
            assert await export(rcv.grpc_port, make_request(0)) == b""
            assert sink.calls == 0

    run(scenario())


def test_malformed_request_is_invalid_argument_and_server_keeps_serving():
    async def scenario():
        async with receiver(GRPC_ONLY) as (rcv, sink):
            err = await export_error(rcv.grpc_port, b"\x0a\xff\xff\xff\x0f garbage")
            assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert err.details()
            assert await export(rcv.grpc_port, make_request(1)) == b""
            assert len(sink.batches) == 1

    run(scenario())


def test_pipeline_errors_map_to_grpc_codes():
    async def scenario():
        telemetry = Telemetry()
        async with receiver(GRPC_ONLY, telemetry=telemetry) as (rcv, sink):
            sink.fail_with = RetryableError("exporter queue is full")
            err = await export_error(rcv.grpc_port, make_request(2))
            assert (err.code(), err.details()) == (grpc.StatusCode.UNAVAILABLE, "exporter queue is full")

            sink.fail_with = PermanentError("rejected by policy")
            err = await export_error(rcv.grpc_port, make_request(2))
            assert err.code() is grpc.StatusCode.INTERNAL  # upstream: permanent without a status

            sink.fail_with = RuntimeError("bug in a processor")
            err = await export_error(rcv.grpc_port, make_request(2))
            assert err.code() is grpc.StatusCode.INTERNAL and "bug in a processor" in err.details()

            sink.fail_with = None
            assert await export(rcv.grpc_port, make_request(3)) == b""

        m = telemetry.metrics
        labels = {"receiver": "otlp", "transport": "grpc"}
        assert m.get("otelcol_receiver_accepted_spans").value(**labels) == 3
        assert m.get("otelcol_receiver_refused_spans").value(**labels) == 4
        assert m.get("otelcol_receiver_failed_spans").value(**labels) == 2
        requests = m.get("otelcol_receiver_requests")
        assert requests.value(outcome="success", **labels) == 1
        assert requests.value(outcome="refused", **labels) == 2
        assert requests.value(outcome="failure", **labels) == 1

    run(scenario())


def test_resource_exhausted_carries_retry_info():
    async def scenario():
        async with receiver(GRPC_ONLY) as (rcv, sink):
            sink.fail_with = RetryableError("memory limit", grpc_code="RESOURCE_EXHAUSTED", retry_after=2.5)
            err = await export_error(rcv.grpc_port, make_request(1))
            assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            details = dict(err.trailing_metadata())["grpc-status-details-bin"]
            status = status_pb2.Status.FromString(details)
            assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
            assert status.message == "memory limit"
            info = error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(info)
            assert (info.retry_delay.seconds, info.retry_delay.nanos) == (2, 500_000_000)

    run(scenario())


def test_include_metadata_passes_lowercased_metadata():
    async def scenario():
        raw = {"protocols": {"grpc": {"endpoint": "127.0.0.1:0", "include_metadata": True}}}
        async with receiver(raw) as (rcv, sink):
            await export(
                rcv.grpc_port, make_request(1), metadata=(("x-tenant", "proj-a"), ("x-tenant", "proj-b"))
            )
            client = sink.clients[0]
            assert client.get("X-Tenant") == ("proj-a", "proj-b")
            assert client.address == "127.0.0.1"

    run(scenario())


def test_max_recv_msg_size():
    async def scenario():
        raw = {"protocols": {"grpc": {"endpoint": "127.0.0.1:0", "max_recv_msg_size_mib": 1}}}
        async with receiver(raw) as (rcv, sink):
            err = await export_error(rcv.grpc_port, make_request(3, filler="x" * 400_000))
            assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert await export(rcv.grpc_port, make_request(2, filler="x" * 400_000)) == b""
            assert sink.calls == 1

    run(scenario())


def test_tls_and_mtls(pki):
    ca = pki.ca.cert.read_bytes()
    server = {"cert_file": str(pki.server.cert), "key_file": str(pki.server.key)}

    async def scenario():
        tls_only = {"protocols": {"grpc": {"endpoint": "127.0.0.1:0", "tls": server}}}
        async with receiver(tls_only) as (rcv, sink):
            creds = grpc.ssl_channel_credentials(root_certificates=ca)
            assert await export(rcv.grpc_port, make_request(1), credentials=creds) == b""
            # the SDK exporter over TLS as well
            exporter = OTLPSpanExporter(
                endpoint=f"https://127.0.0.1:{rcv.grpc_port}", credentials=creds, timeout=10
            )
            try:
                assert await asyncio.to_thread(exporter.export, sdk_spans(1)) is SpanExportResult.SUCCESS
            finally:
                exporter.shutdown()
            assert sink.calls == 2

        mtls = {
            "protocols": {
                "grpc": {"endpoint": "127.0.0.1:0", "tls": {**server, "client_ca_file": str(pki.ca.cert)}}
            }
        }
        async with receiver(mtls) as (rcv, sink):
            no_cert = grpc.ssl_channel_credentials(root_certificates=ca)
            err = await export_error(rcv.grpc_port, make_request(1), credentials=no_cert)
            assert err.code() is grpc.StatusCode.UNAVAILABLE
            with_cert = grpc.ssl_channel_credentials(
                root_certificates=ca,
                private_key=pki.client.key.read_bytes(),
                certificate_chain=pki.client.cert.read_bytes(),
            )
            assert await export(rcv.grpc_port, make_request(1), credentials=with_cert) == b""
            assert sink.calls == 1

    run(scenario())


class _TenantAuth:
    def authenticate(self, headers):
        if headers.get("authorization") != ("Bearer good",):
            raise PermissionError("bad token")
        return {"subject": "tenant-a"}


def test_authenticator_extension():
    async def scenario():
        from cobalt_trace.pipeline.component import ComponentID

        raw = {
            "protocols": {"grpc": {"endpoint": "127.0.0.1:0", "auth": {"authenticator": "bearertokenauth"}}}
        }
        async with receiver(raw, extensions={ComponentID("bearertokenauth"): _TenantAuth()}) as (rcv, sink):
            err = await export_error(
                rcv.grpc_port, make_request(1), metadata=(("authorization", "Bearer bad"),)
            )
            assert (err.code(), err.details()) == (grpc.StatusCode.UNAUTHENTICATED, "bad token")
            await export(rcv.grpc_port, make_request(1), metadata=(("authorization", "Bearer good"),))
            assert sink.clients[0].auth == {"subject": "tenant-a"}
            assert sink.clients[0].metadata == {}

    run(scenario())


def test_missing_authenticator_fails_start():
    async def scenario():
        raw = {"protocols": {"grpc": {"endpoint": "127.0.0.1:0", "auth": {"authenticator": "oidc"}}}}
        with pytest.raises(LookupError, match="extension oidc is not configured"):
            async with receiver(raw):
                pass

    run(scenario())


def test_port_in_use_fails_start():
    async def scenario():
        async with receiver(GRPC_ONLY) as (first, _):
            raw = {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{first.grpc_port}"}}}
            with pytest.raises(OSError, match="cannot listen for gRPC"):
                async with receiver(raw):
                    pass

    run(scenario())


def test_server_options_are_applied_and_served(tmp_path):
    from cobalt_trace.components.receivers.otlp.grpc_server import server_options

    grpc_cfg = {
        "endpoint": str(tmp_path / "otlp.sock"),
        "transport": "unix",
        "max_concurrent_streams": 8,
        "keepalive": {
            "server_parameters": {"max_connection_age": "1m", "time": "30s", "timeout": "5s"},
            "enforcement_policy": {"min_time": "10s", "permit_without_stream": True},
        },
    }

    async def scenario():
        async with receiver({"protocols": {"grpc": grpc_cfg}}) as (rcv, sink):
            options = dict(server_options(rcv.config.protocols.grpc))
            assert options["grpc.max_concurrent_streams"] == 8
            assert options["grpc.max_connection_age_ms"] == 60_000
            assert options["grpc.keepalive_time_ms"] == 30_000
            assert options["grpc.http2.min_ping_interval_without_data_ms"] == 10_000
            assert options["grpc.keepalive_permit_without_calls"] == 1
            await export(0, make_request(1), target=f"unix:{grpc_cfg['endpoint']}")
            assert sink.calls == 1
            assert sink.clients[0].address != "127.0.0.1"

    run(scenario())
