"""Build the SDK TracerProvider for a service: resource, sampler, OTLP exporter, bounded queue."""

from __future__ import annotations

import os
import socket

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from .exporting import BoundedBatchSpanProcessor, ScrubbingSpanExporter
from .settings import Settings

__all__ = ["build_provider", "build_resource", "make_otlp_exporter"]


def build_resource(settings: Settings) -> Resource:
    attributes = {
        "service.name": settings.service_name,
        "service.namespace": "openstack",
        "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
        "host.name": socket.gethostname(),
    }
    if settings.cluster:
        attributes["cluster"] = settings.cluster
    if settings.region:
        attributes["cloud.region"] = settings.region
    # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES; our explicit values win.
    return Resource.create(attributes)


def make_otlp_exporter(settings: Settings) -> SpanExporter:
    if settings.protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        endpoint = settings.endpoint
        if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return HttpExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

    return GrpcExporter(endpoint=settings.endpoint, insecure=settings.insecure if settings.endpoint else None)


def build_provider(
    settings: Settings, exporter: SpanExporter | None = None
) -> tuple[TracerProvider, BoundedBatchSpanProcessor]:
    sampler = None
    if settings.sample_ratio is not None:
        sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))
    provider = TracerProvider(resource=build_resource(settings), sampler=sampler)
    processor = BoundedBatchSpanProcessor(
        ScrubbingSpanExporter(exporter or make_otlp_exporter(settings)),
        max_queue_size=settings.max_queue_size,
    )
    provider.add_span_processor(processor)
    return provider, processor
