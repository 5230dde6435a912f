"""otlp receiver over HTTP: the SDK exporter as client, raw httpx requests for content types,
compression, limits, status codes, Retry-After, TLS/mTLS, CORS, metadata and metrics."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib

import cramjam
import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_receiver_kit import Collecting, build, make_request, receiver, run, span_bytes

from cobalt_trace.pipeline.errors import PermanentError, RetryableError
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry

PB = {"Content-Type": "application/x-protobuf"}
HTTP_ONLY = {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}

JSON_BODY = b"""{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"glance"}}]},
"scopeSpans":[{"scope":{"name":"lib"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C",
"spanId":"EEE19B7EC3C1B174","name":"GET /v2/images","kind":2,
"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000"}]}]}]}"""


def http_config(**settings) -> dict:
    return {"protocols": {"http": {"endpoint": "127.0.0.1:0", **settings}}}


def url(rcv, path: str = "/v1/traces", scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{rcv.http_port}{path}"


def rpc_status(response: httpx.Response) -> status_pb2.Status:
    assert response.headers["content-type"] == "application/x-protobuf"
    return status_pb2.Status.FromString(response.content)


def sdk_spans(n: int = 3):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "keystone"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("cobalt.test")
    with tracer.start_as_current_span("POST /v3/auth/tokens"):
        for i in range(n - 1):
            with tracer.start_as_current_span(f"db-{i}") as child:
                child.set_attribute("db.system", "mysql")
    provider.shutdown()
    return memory.get_finished_spans()


def test_sdk_exporter_spans_arrive_byte_identical():
    spans = sdk_spans(3)
    expected = sorted(span_bytes(encode_spans(spans).SerializeToString()))

    async def scenario():
        async with receiver(HTTP_ONLY) as (rcv, sink):
            exporter = OTLPSpanExporter(endpoint=url(rcv), timeout=10)
            try:
                result = await asyncio.to_thread(exporter.export, spans)
            finally:
                exporter.shutdown()
            assert result is SpanExportResult.SUCCESS
            assert sorted(sink.spans()) == expected
            assert sink.clients[0].address == "127.0.0.1"

    run(scenario())


def test_protobuf_success_response_and_content_type_parameters():
    body = make_request(3)

    async def scenario():
        async with receiver(HTTP_ONLY) as (rcv, sink), httpx.AsyncClient() as client:
            r = await client.post(url(rcv), content=body, headers=PB)
            assert (r.status_code, r.headers["content-type"], r.content) == (
                200,
                "application/x-protobuf",
                b"",
            )
            headers = {"Content-Type": "Application/X-Protobuf; charset=utf-8"}
            r = await client.post(url(rcv), content=body, headers=headers)
            assert r.status_code == 200
            assert [b.to_bytes() for b in sink.batches] == [body, body]

    run(scenario())


COMPRESSORS = {
    "gzip": gzip.compress,
    "zstd": lambda b: bytes(cramjam.zstd.compress(b)),
    "deflate": zlib.compress,
    "zlib": zlib.compress,
    "snappy": lambda b: bytes(cramjam.snappy.compress(b)),  # framed
    "lz4": lambda b: bytes(cramjam.lz4.compress(b)),
}


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        *COMPRESSORS.items(),
        ("snappy", lambda b: bytes(cramjam.snappy.compress_raw(b))),  # block format
        ("deflate", _raw_deflate),  # raw deflate, as some clients send it
    ],
)
def test_compressed_bodies(encoding, compress):
    body = make_request(5, filler="a" * 200)

    async def scenario():
        async with receiver(HTTP_ONLY) as (rcv, sink), httpx.AsyncClient() as client:
            headers = {**PB, "Content-Encoding": encoding}
            r = await client.post(url(rcv), content=compress(body), headers=headers)
            assert r.status_code == 200, r.content
            assert sink.batches[0].to_bytes() == body

    run(scenario())


def test_bad_encodings_are_400():
    body = make_request(1)

    async def scenario():
        cfg = http_config(compression_algorithms=["", "gzip"])
        async with receiver(cfg) as (rcv, sink), httpx.AsyncClient() as client:
            cases = [
                ("br", body, "unsupported Content-Encoding: br"),
                ("zstd", bytes(cramjam.zstd.compress(body)), "unsupported Content-Encoding: zstd"),
                ("gzip", b"not gzip at all", "invalid gzip body"),
                ("gzip", gzip.compress(body)[:-12], "invalid gzip body"),
            ]
            for encoding, content, message in cases:
                r = await client.post(url(rcv), content=content, headers={**PB, "Content-Encoding": encoding})
                assert r.status_code == 400, encoding
                status = rpc_status(r)
                assert status.code == 3 and message in status.message
            assert sink.calls == 0

    run(scenario())


def test_malformed_body_is_400_and_the_server_keeps_serving():
    async def scenario():
        async with receiver(HTTP_ONLY) as (rcv, sink), httpx.AsyncClient() as client:
            r = await client.post(url(rcv), content=b"\x0a\xff\xff\xff\x0f garbage", headers=PB)
            assert r.status_code == 400
            assert rpc_status(r).code == 3  # INVALID_ARGUMENT
            r = await client.post(url(rcv), content=make_request(1), headers=PB)
            assert r.status_code == 200
            assert sink.calls == 1

    run(scenario())


def test_path_method_and_content_type_errors():
    async def scenario():
        async with receiver(HTTP_ONLY) as (rcv, sink), httpx.AsyncClient() as client:
            r = await client.post(url(rcv, "/v1/metrics"), content=make_request(1), headers=PB)
            assert r.status_code == 404
            r = await client.get(url(rcv))
            assert r.status_code == 405 and r.headers["content-type"].startswith("text/plain")
            assert r.text == "405 method not allowed, supported: [POST]"
            r = await client.post(url(rcv), content=make_request(1), headers={"Content-Type": "text/plain"})
            assert r.status_code == 415 and r.headers["content-type"].startswith("text/plain")
            r = await client.post(url(rcv), content=make_request(1))  # no content type at all
            assert r.status_code == 415
            assert sink.calls == 0

    run(scenario())


def test_body_limits_are_413():
    limit = 4096
    big = make_request(1, filler="x" * (limit + 10))

    async def chunks():
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    async def scenario():
        async with receiver(http_config(max_request_body_size=limit)) as (rcv, sink):
            async with httpx.AsyncClient() as client:
                r = await client.post(url(rcv), content=big, headers=PB)  # Content-Length says too big
                assert r.status_code == 413
                assert "max_request_body_size" in rpc_status(r).message
            async with httpx.AsyncClient() as client:
                r = await client.post(url(rcv), content=chunks(), headers=PB)  # chunked: counted on the way
                assert r.status_code == 413
            async with httpx.AsyncClient() as client:
                bomb = gzip.compress(bytes(1024 * 1024))  # 1 MiB of zeros in about 1 KiB
                assert len(bomb) < limit
                r = await client.post(url(rcv), content=bomb, headers={**PB, "Content-Encoding": "gzip"})
                assert r.status_code == 413  # small on the wire, too large decompressed
                for encoding, compress in COMPRESSORS.items():
                    r = await client.post(
                        url(rcv), content=compress(big), headers={**PB, "Content-Encoding": encoding}
                    )
                    assert r.status_code == 413, encoding
            async with httpx.AsyncClient() as client:
                r = await client.post(url(rcv), content=make_request(1), headers=PB)
                assert r.status_code == 200
            assert sink.calls == 1

    run(scenario())


def test_pipeline_errors_map_to_http_statuses_and_retry_after():
    async def scenario():
        telemetry = Telemetry()
        async with receiver(HTTP_ONLY, telemetry=telemetry) as (rcv, sink), httpx.AsyncClient() as client:
            sink.fail_with = RetryableError("exporter down")
            r = await client.post(url(rcv), content=make_request(2), headers=PB)
            assert r.status_code == 503 and "retry-after" not in r.headers
            assert (rpc_status(r).code, rpc_status(r).message) == (14, "exporter down")

            sink.fail_with = RetryableError("memory limit", grpc_code="RESOURCE_EXHAUSTED", retry_after=3)
            r = await client.post(url(rcv), content=make_request(2), headers=PB)
            assert r.status_code == 429 and r.headers["retry-after"] == "3"
            status = rpc_status(r)
            assert status.code == 8 and status.details[0].type_url.endswith("google.rpc.RetryInfo")

            sink.fail_with = RetryableError("busy", retry_after=1.2)
            r = await client.post(url(rcv), content=make_request(2), headers=PB)
            assert r.status_code == 503 and r.headers["retry-after"] == "2"

            sink.fail_with = PermanentError("never")
            r = await client.post(url(rcv), content=make_request(2), headers=PB)
            assert r.status_code == 500 and rpc_status(r).code == 13

            sink.fail_with = KeyError("surprise")
            r = await client.post(url(rcv), content=make_request(2), headers=PB)
            assert r.status_code == 500

            sink.fail_with = None
            r = await client.post(url(rcv), content=make_request(1), headers=PB)
            assert r.status_code == 200

        m = telemetry.metrics
        labels = {"receiver": "otlp", "transport": "http"}
        assert m.get("otelcol_receiver_accepted_spans").value(**labels) == 1
        assert m.get("otelcol_receiver_refused_spans").value(**labels) == 8
        assert m.get("otelcol_receiver_failed_spans").value(**labels) == 2
        requests = m.get("otelcol_receiver_requests")
        assert requests.value(outcome="success", **labels) == 1
        assert requests.value(outcome="refused", **labels) == 4
        assert requests.value(outcome="failure", **labels) == 1

    run(scenario())


def test_json_bodies_and_json_errors():
    pytest.importorskip("cobalt_trace.wire.otlp_json")
    headers = {"Content-Type": "application/json"}

    async def scenario():
        async with receiver(HTTP_ONLY) as (rcv, sink), httpx.AsyncClient() as client:
            r = await client.post(url(rcv), content=JSON_BODY, headers=headers)
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            assert r.json() == {"partialSuccess": {}}
            req = trace_service_pb2.ExportTraceServiceRequest.FromString(sink.batches[0].to_bytes())
            span = req.resource_spans[0].scope_spans[0].spans[0]
            assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
            assert span.name == "GET /v2/images" and span.end_time_unix_nano == 1544712661000000000

            r = await client.post(
                url(rcv), content=gzip.compress(JSON_BODY), headers={**headers, "Content-Encoding": "gzip"}
            )
            assert r.status_code == 200

            r = await client.post(url(rcv), content=b'{"resourceSpans": [', headers=headers)
            assert r.status_code == 400 and r.headers["content-type"] == "application/json"
            assert r.json()["code"] == 3 and r.json()["message"]

            sink.fail_with = RetryableError("memory limit", grpc_code="RESOURCE_EXHAUSTED", retry_after=1)
            r = await client.post(url(rcv), content=JSON_BODY, headers=headers)
            assert r.status_code == 429 and r.headers["retry-after"] == "1"
            body = r.json()
            assert body["code"] == 8 and body["details"][0]["retryDelay"] == "1s"

    run(scenario())


def test_include_metadata_and_response_headers():
    async def scenario():
        cfg = http_config(include_metadata=True, response_headers={"X-Served-By": "cobalt"})
        async with receiver(cfg) as (rcv, sink), httpx.AsyncClient() as client:
            r = await client.post(
                url(rcv), content=make_request(1), headers=[*PB.items(), ("X-Tenant", "a"), ("x-tenant", "b")]
            )
            assert r.status_code == 200 and r.headers["x-served-by"] == "cobalt"
            client_info = sink.clients[0]
            assert client_info.get("X-TENANT") == ("a", "b")
            assert client_info.get("content-type") == ("application/x-protobuf",)
            assert client_info.address == "127.0.0.1"

        async with receiver(HTTP_ONLY) as (rcv, sink), httpx.AsyncClient() as client:
            await client.post(url(rcv), content=make_request(1), headers={**PB, "X-Tenant": "a"})
            assert sink.clients[0].metadata == {}

    run(scenario())


def test_cors():
    cfg = http_config(
        cors={"allowed_origins": ["https://*.example.com", "http://grafana:3000"], "max_age": 600}
    )
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}

    async def scenario():
        async with receiver(cfg) as (rcv, sink), httpx.AsyncClient() as client:
            r = await client.options(url(rcv), headers={**preflight, "Origin": "https://ui.example.com"})
            assert r.status_code == 204
            assert r.headers["access-control-allow-origin"] == "https://ui.example.com"
            assert r.headers["access-control-allow-methods"] == "POST"
            assert r.headers["access-control-allow-headers"] == "content-type"
            assert r.headers["access-control-max-age"] == "600"

            r = await client.options(url(rcv), headers={**preflight, "Origin": "https://evil.test"})
            assert r.status_code == 204 and "access-control-allow-origin" not in r.headers

            r = await client.options(
                url(rcv),
                headers={
                    **preflight,
                    "Origin": "http://grafana:3000",
                    "Access-Control-Request-Headers": "x-secret",
                },
            )
            assert "access-control-allow-origin" not in r.headers  # header not allowed

            r = await client.post(
                url(rcv), content=make_request(1), headers={**PB, "Origin": "http://grafana:3000"}
            )
            assert r.status_code == 200
            assert r.headers["access-control-allow-origin"] == "http://grafana:3000"
            assert r.headers["access-control-allow-credentials"] == "true"
            assert sink.calls == 1

        async with receiver(HTTP_ONLY) as (rcv, _), httpx.AsyncClient() as client:
            r = await client.options(url(rcv), headers={**preflight, "Origin": "https://ui.example.com"})
            assert r.status_code == 405  # no cors section: no preflight handling

    run(scenario())


def test_tls_and_mtls(pki, monkeypatch):
    # requests lets these variables override the exporter's own CA file (psf/requests#3829)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    server_tls = {"cert_file": str(pki.server.cert), "key_file": str(pki.server.key)}

    def client_context(with_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
        if with_cert:
            ctx.load_cert_chain(str(pki.client.cert), str(pki.client.key))
        return ctx

    async def scenario():
        async with receiver(http_config(tls=server_tls)) as (rcv, sink):
            async with httpx.AsyncClient(verify=client_context(False)) as client:
                r = await client.post(url(rcv, scheme="https"), content=make_request(1), headers=PB)
                assert r.status_code == 200
            exporter = OTLPSpanExporter(endpoint=url(rcv, scheme="https"), certificate_file=str(pki.ca.cert))
            try:
                assert await asyncio.to_thread(exporter.export, sdk_spans(1)) is SpanExportResult.SUCCESS
            finally:
                exporter.shutdown()
            assert sink.calls == 2

        mtls = http_config(tls={**server_tls, "client_ca_file": str(pki.ca.cert)})
        async with receiver(mtls) as (rcv, sink):
            async with httpx.AsyncClient(verify=client_context(False)) as client:
                with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                    await client.post(url(rcv, scheme="https"), content=make_request(1), headers=PB)
            async with httpx.AsyncClient(verify=client_context(True)) as client:
                r = await client.post(url(rcv, scheme="https"), content=make_request(1), headers=PB)
                assert r.status_code == 200
            assert sink.calls == 1

    run(scenario())


class _Gated(Collecting):
    """Holds each batch until released, to have a request in flight during shutdown."""

    def __init__(self):
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def consume(self, batch):
        self.entered.set()
        await self.release.wait()
        await super().consume(batch)


class _BearerAuth:
    async def authenticate(self, headers):
        if headers.get("authorization") != ("Bearer good",):
            raise PermissionError("bad token")
        return {"subject": "tenant-a"}


def test_authenticator_extension():
    from cobalt_trace.pipeline.component import ComponentID

    async def scenario():
        cfg = http_config(auth={"authenticator": "bearertokenauth"})
        extensions = {ComponentID("bearertokenauth"): _BearerAuth()}
        async with receiver(cfg, extensions=extensions) as (rcv, sink), httpx.AsyncClient() as client:
            r = await client.post(url(rcv), content=make_request(1), headers=PB)
            assert r.status_code == 401 and rpc_status(r).message == "bad token"
            r = await client.post(
                url(rcv), content=make_request(1), headers={**PB, "Authorization": "Bearer good"}
            )
            assert r.status_code == 200
            assert sink.calls == 1 and sink.clients[0].auth == {"subject": "tenant-a"}

    run(scenario())


def test_shutdown_lets_in_flight_requests_finish_then_refuses_connections():
    async def scenario():
        sink = _Gated()
        rcv, _ = build(HTTP_ONLY, sink=sink)
        await rcv.start(Host(Telemetry()))
        port = rcv.http_port
        async with httpx.AsyncClient() as client:
            request = asyncio.create_task(client.post(url(rcv), content=make_request(2), headers=PB))
            await sink.entered.wait()
            stopping = asyncio.create_task(rcv.shutdown())
            await asyncio.sleep(0)  # let shutdown begin while the request is held
            sink.release.set()
            response = await request
            await stopping
            assert response.status_code == 200 and len(sink.batches) == 1
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.post(f"http://127.0.0.1:{port}/v1/traces", content=make_request(1), headers=PB)

    run(scenario())


def test_both_protocols_and_port_in_use():
    async def scenario():
        both = {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}, "http": {"endpoint": "127.0.0.1:0"}}}
        async with receiver(both) as (rcv, _):
            assert rcv.grpc_port and rcv.http_port and rcv.grpc_port != rcv.http_port
            taken = {"protocols": {"http": {"endpoint": f"127.0.0.1:{rcv.http_port}"}}}
            with pytest.raises(OSError, match="cannot listen for HTTP"):
                async with receiver(taken):
                    pass

    run(scenario())
