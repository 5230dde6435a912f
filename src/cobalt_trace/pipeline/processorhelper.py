"""What every processor reports, as the collector's `processorhelper` does."""

from __future__ import annotations

__all__ = ["ItemCounters"]


class ItemCounters:
    """`otelcol_processor_incoming_items` / `otelcol_processor_outgoing_items` of one processor,
    bound once so the hot path adds integers."""

    __slots__ = ("incoming", "outgoing")

    def __init__(self, settings):
        metrics = settings.telemetry.metrics
        labels = {"processor": str(settings.id), "otel_signal": "traces"}
        self.incoming = metrics.counter(
            "otelcol_processor_incoming_items", "Number of items passed to the processor."
        ).labels(**labels)
        self.outgoing = metrics.counter(
            "otelcol_processor_outgoing_items", "Number of items emitted from the processor."
        ).labels(**labels)
