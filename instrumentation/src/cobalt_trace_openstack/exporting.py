"""Export path: a credential-scrubbing exporter wrapper and a bounded batch processor that counts drops."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from .redaction import REDACTED, is_sensitive_header, redact_url

__all__ = ["BoundedBatchSpanProcessor", "ScrubbingSpanExporter", "scrub_attributes"]

LOG = logging.getLogger(__name__)

_HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
_URL_KEYS = frozenset({"url.full", "http.url", "http.target", "url.query"})


def scrub_attributes(attributes) -> dict | None:
    """Return a scrubbed copy, or None when nothing needed scrubbing (the common case)."""
    if not attributes:
        return None
    changed = None
    for key, value in attributes.items():
        new = value
        if key.startswith(_HEADER_PREFIXES):
            if is_sensitive_header(key.split(".", 3)[3]):
                new = (REDACTED,)
        elif key in _URL_KEYS and isinstance(value, str):
            new = redact_url(value) if key != "url.query" else redact_url("?" + value)[1:]
        if new is not value and new != value:
            if changed is None:
                changed = dict(attributes)
            changed[key] = new
    return changed


class _ScrubbedSpan(ReadableSpan):
    """A ReadableSpan with replaced attributes; everything else is the original span's."""

    def __init__(self, span: ReadableSpan, attributes: dict):
        super().__init__(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=attributes,
            events=span.events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )


class ScrubbingSpanExporter(SpanExporter):
    """Last line of defence: whatever an instrumentation or an operator's capture settings recorded,
    credential headers and secret URL parts never leave the process."""

    def __init__(self, inner: SpanExporter):
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        out = []
        for span in spans:
            attrs = scrub_attributes(span.attributes)
            out.append(span if attrs is None else _ScrubbedSpan(span, attrs))
        return self.inner.export(out)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        flush = getattr(self.inner, "force_flush", None)
        return flush(timeout_millis) if flush else True


class BoundedBatchSpanProcessor(SpanProcessor):
    """The SDK's BatchSpanProcessor, but a full queue drops quietly and counts instead of logging a
    warning per span (which would flood the service log while the gateway is down)."""

    def __init__(self, exporter: SpanExporter, max_queue_size: int | None = None):
        batch_size = None
        if max_queue_size is not None:
            # The SDK rejects a batch larger than the queue; a small queue means small batches.
            batch_size = min(max_queue_size, int(os.environ.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") or 512))
        self._inner = BatchSpanProcessor(
            exporter, max_queue_size=max_queue_size, max_export_batch_size=batch_size
        )
        batch = getattr(self._inner, "_batch_processor", None)
        # Private in the SDK; without it we fall back to the SDK's own dropping.
        self._queue = getattr(batch, "_queue", None)
        self._max = getattr(batch, "_max_queue_size", None)
        self._lock = threading.Lock()
        self.dropped = 0

    def on_start(self, span, parent_context=None) -> None:
        self._inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self._queue is not None and self._max is not None and len(self._queue) >= self._max:
            with self._lock:
                self.dropped += 1
                if self.dropped in (1, 1000) or self.dropped % 100000 == 0:
                    LOG.warning("cobalt-trace: span queue full, %d spans dropped so far", self.dropped)
            return
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
