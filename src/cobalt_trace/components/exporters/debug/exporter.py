"""Logs each batch through the component logger (or stdout with `use_internal_logger: false`).

`sampling_initial` / `sampling_thereafter` thin the output as upstream's zap sampler does: per
second, the first `initial` batches are written, then every `thereafter`-th."""

from __future__ import annotations

import sys
import time

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from ....pipeline.component import Component
from ....wire.batch import SpanBatch
from .text import detailed_text, normal_text

__all__ = ["DebugExporter"]

_clock = time.monotonic  # module-level so tests can pin the sampling window


class DebugExporter(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self.logger = settings.telemetry.child_logger(f"exporter.{settings.id}")
        self._window = 0
        self._seen = 0
        self._sent = settings.telemetry.metrics.counter(
            "otelcol_exporter_sent_spans", "Spans successfully sent"
        ).labels(exporter=str(settings.id))

    def _sampled(self) -> bool:
        second = int(_clock())
        if second != self._window:
            self._window, self._seen = second, 0
        self._seen += 1
        over = self._seen - self.config.sampling_initial
        return over <= 0 or over % self.config.sampling_thereafter == 0

    def _write(self, text: str) -> None:
        if self.config.use_internal_logger:
            self.logger.info("%s", text)
        else:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    async def consume(self, batch: SpanBatch) -> None:
        n = batch.span_count
        self._sent.add(n)
        if not self._sampled():
            return
        resource_count = len(batch.peek().resource_spans)
        self._write(f'TracesExporter {{"resource spans": {resource_count}, "spans": {n}}}')
        verbosity = self.config.verbosity
        if verbosity == "basic" or n == 0:
            return
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(batch.to_bytes())
        self._write(normal_text(request) if verbosity == "normal" else detailed_text(request))
