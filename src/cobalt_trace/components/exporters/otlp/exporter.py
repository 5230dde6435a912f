"""Sends each batch's serialized request as the body of a raw-bytes unary gRPC call.

No protobuf objects are built: `batch.to_bytes()` is already an `ExportTraceServiceRequest`, so
the channel is given no serializer.  gzip is applied by grpcio (`grpc-encoding: gzip`).

Limits of grpcio compared with grpc-go: no zstd/snappy codecs (rejected in config), no TLS version
or cipher settings (warned at start), and no switch to skip certificate verification, so
`insecure_skip_verify` pins the certificate the server presents instead (see `_ensure_channel`).
"""

from __future__ import annotations

import asyncio
import ssl

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from ....pipeline.component import Component
from ....pipeline.configtls import read_pem
from ....pipeline.errors import RetryableError
from ....pipeline.exporterhelper import ExporterHelper, client_authenticator, log_partial_success
from ....wire.batch import SpanBatch
from .config import OTLPGrpcConfig, split_endpoint
from .status import error_from_rpc

__all__ = ["OTLPGrpcExporter", "EXPORT_METHOD"]

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_COMPRESSION = {"gzip": grpc.Compression.Gzip, "none": grpc.Compression.NoCompression, "": None}


class OTLPGrpcExporter(Component):
    def __init__(self, settings, config: OTLPGrpcConfig):
        super().__init__(settings, config)
        self.logger = settings.telemetry.child_logger(f"exporter.{settings.id}")
        self._helper = ExporterHelper(
            settings,
            self.send,
            timeout=config.timeout,
            retry=config.retry_on_failure,
            queue=config.sending_queue,
        )
        self._metadata = tuple((k.lower(), str(v)) for k, v in config.headers.items())
        self._channel: grpc.aio.Channel | None = None
        self._call = None
        self._channel_lock: asyncio.Lock | None = None
        self._auth = None

    async def start(self, host) -> None:
        self._channel_lock = asyncio.Lock()
        self._auth = client_authenticator(host, self.config.auth)
        tls = self.config.tls
        if self.config.use_tls and (
            tls.min_version not in ("", "1.2") or tls.max_version or tls.cipher_suites
        ):
            # grpcio exposes no TLS version or cipher settings; BoringSSL negotiates TLS 1.2-1.3
            self.logger.warning(
                "tls::min_version/max_version/cipher_suites are not enforced by the gRPC client"
            )
        if not (self.config.use_tls and tls.insecure_skip_verify):
            self._open_channel(self._credentials(None))
        # else: the server's certificate is fetched on first send (see _ensure_channel)
        await self._helper.start(host)

    async def consume(self, batch: SpanBatch) -> None:
        await self._helper.consume(batch)

    async def shutdown(self) -> None:
        await self._helper.shutdown()
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    # -- one attempt ----------------------------------------------------------------------------
    async def send(self, batch: SpanBatch) -> None:
        call = self._call or await self._ensure_channel()
        timeout = self.config.timeout or None
        metadata = self._metadata
        if self._auth is not None:
            metadata += tuple((k.lower(), v) for k, v in self._auth.request_headers().items())
        try:
            response = await call(
                batch.to_bytes(),
                metadata=metadata or None,
                timeout=timeout,
                wait_for_ready=self.config.wait_for_ready or None,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE and self.config.tls.insecure_skip_verify:
                self._call = None  # the server may present a new certificate next time
            raise error_from_rpc(exc.code(), exc.details(), exc.trailing_metadata()) from None
        self._check_partial_success(response)

    def _check_partial_success(self, response: bytes | None) -> None:
        if not response:
            return
        try:
            parsed = trace_service_pb2.ExportTraceServiceResponse.FromString(response)
        except DecodeError:
            self.logger.warning("Ignoring an undecodable export response (%d bytes)", len(response))
            return
        if parsed.HasField("partial_success"):
            ps = parsed.partial_success
            log_partial_success(self.logger, ps.rejected_spans, ps.error_message)

    # -- channel ----------------------------------------------------------------------------------
    def _open_channel(self, credentials, name_override: str = "") -> None:
        cfg = self.config
        options: list[tuple[str, object]] = [
            ("grpc.lb_policy_name", cfg.balancer_name),
            ("grpc.primary_user_agent", "cobalt-trace"),
        ]
        override = cfg.tls.server_name_override or name_override
        if credentials is not None and override:
            options.append(("grpc.ssl_target_name_override", override))
        if cfg.authority:
            options.append(("grpc.default_authority", cfg.authority))
        if cfg.keepalive is not None:
            ka = cfg.keepalive
            if ka.time:
                options.append(("grpc.keepalive_time_ms", int(ka.time * 1000)))
            if ka.timeout:
                options.append(("grpc.keepalive_timeout_ms", int(ka.timeout * 1000)))
            options.append(("grpc.keepalive_permit_without_calls", int(ka.permit_without_stream)))
        compression = _COMPRESSION[cfg.compression]
        if credentials is None:
            channel = grpc.aio.insecure_channel(cfg.target, options=options, compression=compression)
        else:
            channel = grpc.aio.secure_channel(
                cfg.target, credentials, options=options, compression=compression
            )
        old, self._channel = self._channel, channel
        if old is not None:
            asyncio.get_running_loop().create_task(old.close())
        self._call = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)

    def _credentials(self, pinned_root: bytes | None):
        cfg = self.config
        if not cfg.use_tls:
            return None
        tls = cfg.tls
        root = pinned_root or read_pem(tls.ca_file, tls.ca_pem)
        return grpc.ssl_channel_credentials(
            root_certificates=root,
            private_key=read_pem(tls.key_file, tls.key_pem),
            certificate_chain=read_pem(tls.cert_file, tls.cert_pem),
        )

    async def _ensure_channel(self):
        """`insecure_skip_verify`: grpcio cannot turn certificate verification off, so the
        certificate the server presents is fetched without verification and trusted as the only
        root (pinned until the next UNAVAILABLE).  This works for self-signed server certificates;
        a CA-issued leaf can only be trusted this way if the CA is given in `ca_file`."""
        async with self._channel_lock:
            if self._call is not None:
                return self._call
            host, port, _ = split_endpoint(self.config.endpoint)
            try:
                pem = await asyncio.to_thread(ssl.get_server_certificate, (host.strip("[]"), port), timeout=5)
            except OSError as exc:
                raise RetryableError(f"cannot fetch the server certificate of {host}:{port}: {exc}") from None
            self.logger.warning(
                "tls::insecure_skip_verify: trusting the certificate %s:%d presented without verification",
                host,
                port,
            )
            self._open_channel(self._credentials(pem.encode()), name_override=_certificate_name(pem.encode()))
            return self._call


def _certificate_name(pem: bytes) -> str:
    """A name the certificate is valid for, so gRPC's hostname check passes on the pinned cert."""
    cert = x509.load_pem_x509_certificate(pem)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = sans.get_values_for_type(x509.DNSName)
        if names:
            return names[0].replace("*", "x", 1)  # any name a wildcard covers
    except x509.ExtensionNotFound:
        pass
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else ""
