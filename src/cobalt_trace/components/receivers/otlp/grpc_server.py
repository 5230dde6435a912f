"""OTLP/gRPC: a `grpc.aio` server whose Export handler receives the request as raw bytes.

No generated classes are involved: the request goes straight into `SpanBatch.from_bytes` and the
(always empty) `ExportTraceServiceResponse` is the empty byte string.
"""

from __future__ import annotations

import grpc

from ....pipeline.client import ClientInfo
from ....pipeline.configtls import read_pem
from ....wire.batch import SpanBatch
from .receiver import authenticate
from .statuses import status_for

__all__ = ["GrpcTraceServer", "SERVICE", "server_options"]

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
_EMPTY_RESPONSE = b""
_SHUTDOWN_GRACE = 5.0
_MIB = 1024 * 1024


def server_options(cfg) -> list[tuple[str, int]]:
    """configgrpc settings as grpc core channel arguments."""
    # grpc turns SO_REUSEPORT on by default: a second collector would silently share the port.
    opts: list[tuple[str, int]] = [("grpc.so_reuseport", 0)]
    if cfg.max_recv_msg_size_mib > 0:
        opts.append(("grpc.max_receive_message_length", cfg.max_recv_msg_size_mib * _MIB))
    if cfg.max_concurrent_streams > 0:
        opts.append(("grpc.max_concurrent_streams", cfg.max_concurrent_streams))
    keepalive = cfg.keepalive
    params = keepalive.server_parameters if keepalive else None
    if params is not None:
        for arg, value in (
            ("grpc.max_connection_idle_ms", params.max_connection_idle),
            ("grpc.max_connection_age_ms", params.max_connection_age),
            ("grpc.max_connection_age_grace_ms", params.max_connection_age_grace),
            ("grpc.keepalive_time_ms", params.time),
            ("grpc.keepalive_timeout_ms", params.timeout),
        ):
            if value:
                opts.append((arg, int(value * 1000)))
    policy = keepalive.enforcement_policy if keepalive else None
    if policy is not None:
        if policy.min_time:
            opts.append(("grpc.http2.min_ping_interval_without_data_ms", int(policy.min_time * 1000)))
        opts.append(("grpc.keepalive_permit_without_calls", int(policy.permit_without_stream)))
    return opts


def _credentials(tls) -> grpc.ServerCredentials:
    cert = read_pem(tls.cert_file, tls.cert_pem)
    key = read_pem(tls.key_file, tls.key_pem)
    client_ca = read_pem(tls.client_ca_file, "")
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _address(cfg) -> str:
    if cfg.transport == "unix":
        return f"unix:{cfg.endpoint}"
    host, _, port = cfg.endpoint.rpartition(":")
    if cfg.transport == "tcp4" and not host:
        host = "0.0.0.0"
    elif not host:
        host = "[::]"
    return f"{host}:{port}"


def peer_address(peer: str) -> str:
    """`ipv4:10.0.0.1:5000` / `ipv6:[::1]:5000` / `unix:/path` → the address part alone."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return rest or peer


class GrpcTraceServer:
    def __init__(self, receiver, cfg, observer, authenticator=None):
        self._receiver = receiver
        self._cfg = cfg
        self._observer = observer
        self._auth = authenticator
        self._server: grpc.aio.Server | None = None

    async def start(self) -> int:
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                # No (de)serializers: the handler gets and returns bytes.
                "Export": grpc.unary_unary_rpc_method_handler(self._export),
            },
        )
        server = grpc.aio.server(options=server_options(self._cfg))
        server.add_generic_rpc_handlers((handler,))
        address = _address(self._cfg)
        try:
            if self._cfg.tls is not None:
                port = server.add_secure_port(address, _credentials(self._cfg.tls))
            else:
                port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(f"otlp receiver: cannot listen for gRPC on {self._cfg.endpoint}: {exc}") from None
        if port == 0 and self._cfg.transport != "unix":
            raise OSError(f"otlp receiver: cannot listen for gRPC on {self._cfg.endpoint}")
        await server.start()
        self._server = server
        return port

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            # Stops accepting at once; in-flight RPCs get the grace period to finish.
            await server.stop(_SHUTDOWN_GRACE)

    async def _export(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            metadata = _metadata(context) if (self._cfg.include_metadata or self._auth) else None
            auth = await authenticate(self._auth, metadata, self._observer) if self._auth is not None else {}
            if not request:
                return _EMPTY_RESPONSE
            batch = SpanBatch.from_bytes(request)
        except Exception as exc:  # WireError, AuthenticationError, or a bug: all answered
            return await self._abort(context, exc)
        if batch.span_count == 0:
            return _EMPTY_RESPONSE
        client = ClientInfo(
            address=peer_address(context.peer() or ""),
            metadata=metadata if self._cfg.include_metadata else {},
            auth=auth,
        )
        try:
            await self._receiver.deliver(batch, client, self._observer)
        except Exception as exc:
            return await self._abort(context, exc)
        return _EMPTY_RESPONSE

    async def _abort(self, context, exc: Exception) -> bytes:
        status = status_for(exc)
        if status.unexpected:
            self._receiver.logger.error("gRPC export failed", exc_info=exc)
        await context.abort(status.code, status.message, trailing_metadata=status.grpc_trailers())
        return _EMPTY_RESPONSE  # not reached: abort raises


def _metadata(context) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, bytes):  # "-bin" keys carry bytes
            value = value.decode("latin-1")
        grouped.setdefault(key.lower(), []).append(value)
    return {k: tuple(v) for k, v in grouped.items()}
