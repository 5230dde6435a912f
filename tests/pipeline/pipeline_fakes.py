"""Small fake components for the pipeline tests: dataclass configs shaped like the seed's
(`otlp` receiver, `batch`/`resource`/`tail_sampling` processors, `otlp` exporter with its
upstream name `otlp_grpc`), a journal of start/consume/shutdown events, and batches."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from cobalt_trace.pipeline.component import Component, Factory, Kind
from cobalt_trace.pipeline.configtypes import Duration
from cobalt_trace.pipeline.errors import ConfigError
from cobalt_trace.pipeline.registry import Registry
from cobalt_trace.wire.batch import SpanBatch


def resource_bytes(service: str) -> bytes:
    kv = KeyValue(key="service.name", value=AnyValue(string_value=service))
    return Resource(attributes=[kv]).SerializeToString()


def make_batch(service: str = "nova-api", spans: int = 2) -> SpanBatch:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.CopyFrom(Resource.FromString(resource_bytes(service)))
    ss = rs.scope_spans.add()
    for i in range(spans):
        span = ss.spans.add(name=f"op{i}", start_time_unix_nano=1, end_time_unix_nano=2)
        span.trace_id = bytes([i + 1]) * 16
        span.span_id = bytes([i + 1]) * 8
    return SpanBatch.from_bytes(req.SerializeToString())


def first_resource(batch: SpanBatch) -> bytes:
    return batch.peek().resource_spans[0].resource


# -- configs -------------------------------------------------------------------------------------
@dataclass
class Protocol:
    endpoint: str = ""


@dataclass
class Protocols:
    grpc: Protocol | None = None
    http: Protocol | None = None


@dataclass
class ReceiverConfig:
    protocols: Protocols = field(default_factory=Protocols)
    fail_start: bool = False


@dataclass
class BatchConfig:
    timeout: Duration = Duration(0.2)
    send_batch_size: int = 8192
    fail_start: bool = False


@dataclass
class Attribute:
    key: str = ""
    value: Any = None
    action: Literal["insert", "update", "upsert", "delete"] = "upsert"

    def validate(self) -> list[str]:
        return [] if self.key else ["key: must not be empty"]


@dataclass
class ResourceConfig:
    attributes: list[Attribute] = field(default_factory=list)
    fail_start: bool = False


@dataclass
class TailSamplingConfig:
    decision_wait: Duration = Duration(30)
    policies: list[dict[str, Any]] = field(default_factory=list)
    fail_start: bool = False


@dataclass
class ExporterTLS:
    insecure: bool = False


@dataclass
class ExporterConfig:
    endpoint: str = ""
    tls: ExporterTLS = field(default_factory=ExporterTLS)
    mutates: bool = False
    fail_start: bool = False
    fail_create: str = ""

    def validate(self) -> list[str]:
        return [] if self.endpoint else ["endpoint: must be set"]


@dataclass
class DebugConfig:
    verbosity: Literal["basic", "normal", "detailed"] = "basic"
    mutates: bool = False
    fail_start: bool = False
    fail_create: str = ""


@dataclass
class ExtensionConfig:
    fail_start: bool = False


# -- components ----------------------------------------------------------------------------------
class Journal:
    """What the fake components did, in order, as "verb kind::id[@pipeline]" lines."""

    def __init__(self):
        self.events: list[str] = []

    def of(self, verb: str) -> list[str]:
        return [e.split(" ", 1)[1] for e in self.events if e.startswith(verb + " ")]


class Fake(Component):
    def __init__(self, settings, config, next_consumer, journal: Journal):
        super().__init__(settings, config)
        self.next_consumer = next_consumer
        self.journal = journal
        self.host = None

    @property
    def label(self) -> str:
        where = f"@{self.settings.pipeline}" if self.settings.kind is Kind.PROCESSOR else ""
        return f"{self.settings.kind.value}::{self.id}{where}"

    async def start(self, host) -> None:
        self.journal.events.append(f"start {self.label}")
        if getattr(self.config, "fail_start", False):
            raise OSError(f"cannot bind for {self.id}")
        self.host = host

    async def shutdown(self) -> None:
        self.journal.events.append(f"shutdown {self.label}")


class FakeReceiver(Fake):
    async def push(self, batch: SpanBatch) -> None:
        await self.next_consumer.consume(batch)

    def local_endpoints(self) -> list:
        grpc = self.config.protocols.grpc
        return [grpc.endpoint] if grpc is not None and grpc.endpoint else []


class FakeProcessor(Fake):
    """Forwards; the `resource` type upserts `cluster` in place (so it says it mutates)."""

    def __init__(self, settings, config, next_consumer, journal):
        super().__init__(settings, config, next_consumer, journal)
        self.mutates_data = settings.id.type == "resource"
        self.seen: list[bytes] = []

    async def consume(self, batch: SpanBatch) -> None:
        self.seen.append(first_resource(batch))
        if self.mutates_data:
            marker = f"{self.settings.pipeline}:{self.id}"
            batch.message.resource_spans[0].resource = resource_bytes(marker)
            await asyncio.sleep(0)  # let a sibling pipeline run in between
        await self.next_consumer.consume(batch)


class FakeExporter(Fake):
    def __init__(self, settings, config, next_consumer, journal):
        super().__init__(settings, config, next_consumer, journal)
        self.mutates_data = config.mutates
        self.received: list[SpanBatch] = []
        self.local_endpoints_at_start: dict = {}

    async def start(self, host) -> None:
        await super().start(host)
        self.local_endpoints_at_start = dict(host.local_endpoints)

    async def consume(self, batch: SpanBatch) -> None:
        self.received.append(batch)
        if self.mutates_data:
            batch.message.resource_spans[0].resource = resource_bytes(f"exported-by-{self.id}")


class FakeExtension(Fake):
    pass


def make_registry(journal: Journal | None = None) -> Registry:
    journal = journal if journal is not None else Journal()

    def maker(cls):
        return lambda settings, config, next_consumer: cls(settings, config, next_consumer, journal)

    def exporter(settings, config, next_consumer):
        if config.fail_create:
            raise ConfigError([f"exporters::{settings.id}::fail_create: {config.fail_create}"])
        return FakeExporter(settings, config, next_consumer, journal)

    return Registry(
        [
            Factory("otlp", Kind.RECEIVER, ReceiverConfig, maker(FakeReceiver)),
            Factory("batch", Kind.PROCESSOR, BatchConfig, maker(FakeProcessor)),
            Factory("resource", Kind.PROCESSOR, ResourceConfig, maker(FakeProcessor)),
            Factory("tail_sampling", Kind.PROCESSOR, TailSamplingConfig, maker(FakeProcessor)),
            Factory("otlp_grpc", Kind.EXPORTER, ExporterConfig, exporter, aliases=("otlp",)),
            Factory("debug", Kind.EXPORTER, DebugConfig, exporter),
            Factory("health_check", Kind.EXTENSION, ExtensionConfig, maker(FakeExtension)),
        ]
    )
