"""Routes every span to the backend that owns its trace id (or its service) on the hash ring.

Backends are `otlp` exporters made from the `otlp` factory with `protocol.otlp` settings, one
per resolved endpoint, each with its own queue and retries.  A backend that is this very
process (its endpoint is one of our own receivers) gets the batch handed to that receiver's
pipelines directly, without a network hop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from ....pipeline.component import Component, ComponentID, CreateSettings, Kind
from ....pipeline.configtypes import decode, join_path
from ....pipeline.errors import ConfigError, ConsumerError, PermanentError, RetryableError
from ....wire.batch import SpanBatch
from ....wire.otlp_raw import RequestRaw, SpanLite
from .resolver import DNSBackends, StaticBackends
from .ring import HashRing

__all__ = ["LoadBalancingExporter", "local_addresses"]

try:  # the native scanner reads trace ids without a message object per span
    from ....wire.spanview import scan_spans as _scan
except ImportError:  # pragma: no cover - until the scanner is available
    _scan = None


def _trace_ids(spans) -> list[bytes]:
    if _scan is not None:
        return [f.trace_id for f in _scan(spans)]
    return [SpanLite.FromString(s).trace_id for s in spans]


def local_addresses() -> set[str]:
    addrs = {"127.0.0.1", "::1"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            addrs.add(info[4][0])
    except OSError:
        pass
    return addrs


def _split_endpoint(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


class _LocalBackend:
    """This process's own receiver: the batch goes straight into its pipelines."""

    def __init__(self, consumer):
        self.consumer = consumer

    async def consume(self, batch: SpanBatch) -> None:
        await self.consumer.consume(batch)

    async def shutdown(self) -> None:
        pass


class LoadBalancingExporter(Component):
    def __init__(self, settings, config, otlp_factory):
        super().__init__(settings, config)
        self._otlp_factory = otlp_factory
        path = join_path("exporters", str(settings.id), "protocol", "otlp")
        _, errors = decode(
            otlp_factory.config_type, {**config.protocol.otlp, "endpoint": "backend:4317"}, path
        )
        if errors:
            raise ConfigError(errors)
        self._ring: HashRing | None = None
        self._backends: dict[str, object] = {}
        self._host = None
        self._service_names: dict[bytes, bytes] = {}
        self._log = settings.telemetry.child_logger(str(settings.id))
        metrics = settings.telemetry.metrics
        label = {"exporter": str(settings.id)}
        self._m_backends = metrics.gauge(
            "otelcol_loadbalancer_num_backends", "Current number of backends in use"
        )
        self._m_updates = metrics.counter(
            "otelcol_loadbalancer_num_backend_updates", "Number of times the list of backends was updated"
        ).labels(**label)
        self._m_resolutions = metrics.counter(
            "otelcol_loadbalancer_num_resolutions",
            "Number of times the resolver has triggered new resolutions",
        )
        self._m_outcome = metrics.counter(
            "otelcol_loadbalancer_backend_outcome", "Number of successes and failures"
        )
        self._m_latency = metrics.histogram(
            "otelcol_loadbalancer_backend_latency", "Response latency in ms for the backends"
        )
        self._label = label
        dns = config.resolver.dns
        if dns is not None:
            self._resolver = DNSBackends(
                dns.hostname,
                dns.port,
                dns.interval,
                dns.timeout,
                on_resolution=lambda ok: self._m_resolutions.add(1, resolver="dns", success=str(ok).lower()),
            )
        else:
            self._resolver = StaticBackends(config.resolver.static.hostnames)
        self._local_ips = local_addresses()

    async def start(self, host) -> None:
        self._host = host
        await self._resolver.start(self._on_backends)

    # -- backends ---------------------------------------------------------------------------
    def _local_consumer(self, endpoint: str):
        local = getattr(self._host, "local_endpoints", None) or {}
        if endpoint in local:
            return local[endpoint]
        host, port = _split_endpoint(endpoint)
        try:
            ipaddress.ip_address(host)
            ips = {host}
        except ValueError:
            try:
                ips = {i[4][0] for i in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
            except OSError:
                return None
        for ip in ips:
            for key in (f"{ip}:{port}", f"[{ip}]:{port}"):
                if key in local:
                    return local[key]
            if ("*", port) in local and ip in self._local_ips:
                return local[("*", port)]
        return None

    async def _make_backend(self, endpoint: str):
        consumer = self._local_consumer(endpoint)
        if consumer is not None:
            self._log.info("backend %s is this process: handing batches to the local pipeline", endpoint)
            return _LocalBackend(consumer)
        raw = {**self.config.protocol.otlp, "endpoint": endpoint}
        cfg, errors = decode(self._otlp_factory.config_type, raw, f"exporters::{self.id}::protocol::otlp")
        if errors:
            raise ConfigError(errors)
        child_id = ComponentID(self.id.type, f"{self.id.name + '-' if self.id.name else ''}{endpoint}")
        settings = CreateSettings(child_id, Kind.EXPORTER, self.settings.telemetry)
        exporter = self._otlp_factory.create(settings, cfg, None)
        await exporter.start(self._host)
        return exporter

    async def _on_backends(self, endpoints: list[str]) -> None:
        new: dict[str, object] = {}
        for endpoint in endpoints:
            new[endpoint] = self._backends.get(endpoint) or await self._make_backend(endpoint)
        removed = [b for e, b in self._backends.items() if e not in new]
        self._backends = new
        self._ring = HashRing(list(new))
        self._m_backends.set(len(new), **self._label)
        self._m_updates.add(1)
        self._log.info("backends: %s", ", ".join(sorted(new)) or "none")
        for backend in removed:  # drain in the background; its queue still holds accepted data
            asyncio.create_task(backend.shutdown())

    # -- routing ----------------------------------------------------------------------------
    def _service_of(self, resource: bytes) -> bytes:
        name = self._service_names.get(resource)
        if name is None:
            res = Resource.FromString(resource)
            name = next(
                (kv.value.string_value for kv in res.attributes if kv.key == "service.name"), ""
            ).encode()
            if len(self._service_names) > 4096:
                self._service_names.clear()
            self._service_names[resource] = name
        return name

    def split(self, batch: SpanBatch) -> dict[str, SpanBatch]:
        """Sub-batches per backend endpoint; resources and scopes are kept around their spans."""
        ring = self._ring
        if ring is None or len(ring) == 0:
            raise RetryableError("no backends resolved yet")
        if len(ring) == 1:
            return {ring.endpoints[0]: batch}
        out: dict[str, object] = {}
        by_service = self.config.routing_key == "service"
        for rs in batch.peek().resource_spans:
            if by_service:
                endpoint = ring.lookup(self._service_of(rs.resource))
                req = out.setdefault(endpoint, RequestRaw())
                req.resource_spans.append(rs)
                continue
            targets: dict[str, object] = {}
            for ss in rs.scope_spans:
                spans = ss.spans
                groups: dict[str, list[bytes]] = {}
                for span, trace_id in zip(spans, _trace_ids(spans), strict=True):
                    groups.setdefault(ring.lookup(trace_id), []).append(span)
                for endpoint, items in groups.items():
                    out_rs = targets.get(endpoint)
                    if out_rs is None:
                        req = out.setdefault(endpoint, RequestRaw())
                        out_rs = targets[endpoint] = req.resource_spans.add(
                            resource=rs.resource, schema_url=rs.schema_url
                        )
                    out_rs.scope_spans.add(scope=ss.scope, schema_url=ss.schema_url, spans=items)
        return {e: SpanBatch(message=req) for e, req in out.items()}

    async def consume(self, batch: SpanBatch) -> None:
        parts = self.split(batch)
        results = await asyncio.gather(
            *(self._send(endpoint, part) for endpoint, part in parts.items()), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            if len(errors) == 1 and isinstance(errors[0], ConsumerError):
                raise errors[0]
            retryable = all(getattr(e, "retryable", False) for e in errors)
            message = "; ".join(str(e) for e in errors)
            raise (RetryableError if retryable else PermanentError)(message)

    async def _send(self, endpoint: str, batch: SpanBatch) -> None:
        backend = self._backends[endpoint]
        started = time.perf_counter()
        try:
            await backend.consume(batch)
        except Exception:
            self._m_outcome.add(1, endpoint=endpoint, success="false")
            raise
        self._m_outcome.add(1, endpoint=endpoint, success="true")
        self._m_latency.observe((time.perf_counter() - started) * 1000, endpoint=endpoint)

    async def shutdown(self) -> None:
        await self._resolver.stop()
        await asyncio.gather(*(b.shutdown() for b in self._backends.values()), return_exceptions=True)
        self._backends = {}
