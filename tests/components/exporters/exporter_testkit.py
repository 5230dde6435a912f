"""Shared helpers of the exporter tests: settings, span batches, loop runner, TLS certificates."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.wire.batch import SpanBatch

__all__ = ["make_settings", "make_request", "make_batch", "run", "decode_ok", "Certs", "make_certs"]


def make_settings(type_: str = "otlp", name: str = "") -> CreateSettings:
    return CreateSettings(id=ComponentID(type_, name), kind=Kind.EXPORTER, telemetry=Telemetry())


def make_request(n_spans: int = 3, *, service: str = "nova-api", filler: str = "") -> bytes:
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value=service))
    ss = rs.scope_spans.add()
    ss.scope.name = "cobalt.test"
    ss.scope.version = "1.0"
    for i in range(n_spans):
        span = ss.spans.add(
            trace_id=bytes(range(1, 17)),
            span_id=(i + 1).to_bytes(8, "big"),
            name=f"GET /servers/{i}",
            kind=trace_pb2.Span.SPAN_KIND_SERVER,
            start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_000_500_000_000 + i,
        )
        span.attributes.add(key="http.route", value=common_pb2.AnyValue(string_value="/servers/{id}"))
        span.attributes.add(key="http.status_code", value=common_pb2.AnyValue(int_value=200))
        if filler:
            span.attributes.add(key="filler", value=common_pb2.AnyValue(string_value=filler))
        span.events.add(time_unix_nano=1_700_000_000_100_000_000, name="retry")
        span.links.add(trace_id=bytes(16), span_id=bytes(8))
        span.status.code = trace_pb2.Status.STATUS_CODE_ERROR if i == 0 else trace_pb2.Status.STATUS_CODE_OK
    return req.SerializeToString()


def make_batch(n_spans: int = 3, **kw) -> SpanBatch:
    return SpanBatch.from_bytes(make_request(n_spans, **kw), validate=False)


def run(coro, timeout: float = 30.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def decode_ok(cls, raw, path="exporters::x"):
    cfg, errors = decode(cls, raw, path)
    assert errors == [], errors
    return cfg


@dataclass
class Certs:
    ca_pem: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes
    self_signed_cert: bytes
    self_signed_key: bytes


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert(subject_cn, key, issuer_cn, issuer_key, *, ca=False, sans=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        names = []
        for s in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(s)))
            except ValueError:
                names.append(x509.DNSName(s))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def make_certs() -> Certs:
    ca_key = _key()
    ca = _cert("cobalt test CA", ca_key, "cobalt test CA", ca_key, ca=True)
    server_key, client_key, self_key = _key(), _key(), _key()
    return Certs(
        ca_pem=ca,
        server_cert=_cert("localhost", server_key, "cobalt test CA", ca_key, sans=("localhost", "127.0.0.1")),
        server_key=_pem_key(server_key),
        client_cert=_cert("exporter-client", client_key, "cobalt test CA", ca_key),
        client_key=_pem_key(client_key),
        self_signed_cert=_cert("sink.example", self_key, "sink.example", self_key, sans=("sink.example",)),
        self_signed_key=_pem_key(self_key),
    )
