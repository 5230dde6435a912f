"""The `otlp` receiver: starts the gRPC and HTTP servers that are configured and hands every
request's spans to the next consumer, counting outcomes with the collector's metric names."""

from __future__ import annotations

import inspect
from typing import Any

from ....pipeline.client import ClientInfo, set_client
from ....pipeline.component import Component, Consumer
from ....pipeline.errors import ConsumerError
from ....wire.batch import SpanBatch
from .statuses import AuthenticationError

__all__ = ["OtlpReceiver", "TransportObserver"]

_HELP = {
    "otelcol_receiver_accepted_spans": "Number of spans successfully pushed into the pipeline.",
    "otelcol_receiver_refused_spans": "Number of spans that could not be pushed into the pipeline.",
    "otelcol_receiver_failed_spans": "Number of spans that failed to be processed by the receiver.",
    "otelcol_receiver_requests": "Number of requests handled by the receiver, by outcome.",
}


class TransportObserver:
    """Metric children bound once per transport, so the hot path only adds integers."""

    __slots__ = (
        "accepted",
        "refused",
        "failed",
        "success",
        "refused_requests",
        "failed_requests",
        "unauthenticated",
    )

    def __init__(self, metrics, receiver: str, transport: str):
        labels = {"receiver": receiver, "transport": transport}

        def counter(name: str, **extra: str):
            return metrics.counter(name, _HELP[name]).labels(**labels, **extra)

        self.accepted = counter("otelcol_receiver_accepted_spans")
        self.refused = counter("otelcol_receiver_refused_spans")
        self.failed = counter("otelcol_receiver_failed_spans")
        self.success = counter("otelcol_receiver_requests", outcome="success")
        self.refused_requests = counter("otelcol_receiver_requests", outcome="refused")
        # not an upstream outcome: requests rejected by the `auth` authenticator (401/UNAUTHENTICATED)
        self.unauthenticated = counter("otelcol_receiver_requests", outcome="unauthenticated")
        self.failed_requests = counter("otelcol_receiver_requests", outcome="failure")


class OtlpReceiver(Component):
    def __init__(self, settings, config, next_consumer: Consumer):
        super().__init__(settings, config)
        self.next_consumer = next_consumer
        self.logger = settings.telemetry.child_logger(f"receiver.{settings.id}")
        self.grpc_port: int | None = None  # bound ports, known after start (endpoint port 0 picks one)
        self.http_port: int | None = None
        self._grpc = None
        self._http = None

    async def start(self, host) -> None:
        from .grpc_server import GrpcTraceServer
        from .http_server import HttpTraceServer

        protocols = self.config.protocols
        metrics = self.settings.telemetry.metrics
        try:
            if protocols.grpc is not None:
                auth = _authenticator(host, protocols.grpc.auth)
                observer = TransportObserver(metrics, str(self.id), "grpc")
                self._grpc = GrpcTraceServer(self, protocols.grpc, observer, auth)
                self.grpc_port = await self._grpc.start()
            if protocols.http is not None:
                auth = _authenticator(host, protocols.http.auth)
                observer = TransportObserver(metrics, str(self.id), "http")
                self._http = HttpTraceServer(self, protocols.http, observer, auth)
                self.http_port = await self._http.start()
        except BaseException:
            await self.shutdown()
            raise

    def local_endpoints(self) -> list:
        """The configured gRPC endpoint, so a loadbalancing exporter of this process can hand its
        own share of spans straight to our pipelines (see `Service`)."""
        grpc_cfg = self.config.protocols.grpc
        if (
            grpc_cfg is None
            or grpc_cfg.endpoint.startswith("unix:")
            or getattr(grpc_cfg, "transport", "tcp") != "tcp"
        ):
            return []
        bind, _, port = grpc_cfg.endpoint.rpartition(":")
        if not port.isdigit() or int(port) == 0:
            return []  # an ephemeral port is not known before start
        bind = bind.strip("[]")
        if bind in ("", "0.0.0.0", "::"):
            return [("*", int(port))]
        keys = [f"{bind}:{port}"]
        if bind == "localhost":
            keys.append(f"127.0.0.1:{port}")
        return keys

    async def shutdown(self) -> None:
        servers, self._grpc, self._http = (self._grpc, self._http), None, None
        for server in servers:
            if server is not None:
                await server.stop()

    async def deliver(self, batch: SpanBatch, client: ClientInfo, observer: TransportObserver) -> None:
        """Push one request's spans downstream as `client`; raises what the pipeline raised."""
        count = batch.span_count
        token = set_client(client)
        try:
            await self.next_consumer.consume(batch)
        except ConsumerError:
            observer.refused.add(count)
            observer.refused_requests.add(1)
            raise
        except Exception:
            observer.failed.add(count)
            observer.failed_requests.add(1)
            raise
        finally:
            token.var.reset(token)
        observer.accepted.add(count)
        observer.success.add(1)


def _authenticator(host, auth) -> Any:
    if auth is None:
        return None
    ext = host.get_extension(auth.authenticator)
    if not callable(getattr(ext, "authenticate", None)):
        raise TypeError(
            f"extension {auth.authenticator} is not a server authenticator (no authenticate method)"
        )
    return ext


async def authenticate(ext, metadata: dict[str, tuple[str, ...]], observer=None) -> dict[str, str]:
    """Ask the authenticator about the request's headers; returns its auth data for `ClientInfo`.

    The contract is kept small until the auth extensions exist: `authenticate(headers)`, sync or
    async, raises to reject and may return a mapping that ends up in `ClientInfo.auth`.
    """
    try:
        result = ext.authenticate(metadata)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        if observer is not None:
            observer.unauthenticated.add(1)
        raise AuthenticationError(str(exc) or "authentication failed") from exc
    return dict(result) if isinstance(result, dict) else {}
