"""OpenTelemetry instrumentation for OpenStack services (see instrumentation/README.md).

One call at service start-up::

    import cobalt_trace_openstack
    cobalt_trace_openstack.setup("nova-compute", cluster="hv-eu-1", conf=CONF)

plus the paste filter ``cobalt_trace_openstack.wsgi:filter_factory`` in API pipelines.
"""

from __future__ import annotations

import logging
import os

from opentelemetry import trace as _otel_trace

from . import _state
from .agent import trace
from .settings import Settings, resolve

__all__ = ["Settings", "dropped_spans", "force_flush", "setup", "shutdown", "trace"]
__version__ = "0.1.0"

LOG = logging.getLogger(__name__)


def setup(
    service_name: str,
    *,
    cluster: str | None = None,
    endpoint: str | None = None,
    conf=None,
    exporter=None,
):
    """Install the TracerProvider and the outgoing-HTTP, oslo.messaging and periodic-task hooks.

    Returns the TracerProvider, or None when tracing is disabled. A second call returns the first
    call's provider and changes nothing. ``exporter`` replaces the OTLP exporter (tests, custom
    transports); it is still wrapped by the credential scrubber and the bounded queue.
    Invalid arguments raise ValueError; failures of the tracing machinery itself are logged and
    leave the service running untraced.
    """
    with _state.LOCK:
        if _state.settings is not None:
            return _state.provider
        settings = resolve(service_name, cluster=cluster, endpoint=endpoint, conf=conf)
        _state.settings = settings
        if not settings.enabled:
            LOG.info("cobalt-trace: tracing disabled for %s", service_name)
            return None
        try:
            # Stable HTTP semantic conventions for the requests instrumentation, unless the
            # operator chose otherwise.
            os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
            from .provider import build_provider

            provider, processor = build_provider(settings, exporter)
            _otel_trace.set_tracer_provider(provider)
            if _otel_trace.get_tracer_provider() is not provider:
                LOG.warning(
                    "cobalt-trace: another TracerProvider was already installed; ours is used by our hooks"
                )
            _state.provider, _state.processor = provider, processor
        except Exception:
            LOG.exception("cobalt-trace: cannot set up tracing; the service runs untraced")
            return None
        _instrument(settings, provider)
        return provider


def _instrument(settings: Settings, provider) -> None:
    if settings.instrument_requests:
        try:
            from .http_client import instrument_requests

            _state.instrumentors.append(instrument_requests(tracer_provider=provider))
        except Exception as exc:
            LOG.warning("cobalt-trace: outgoing HTTP not traced: %s", exc)
    if settings.instrument_messaging:
        try:
            import oslo_messaging  # noqa: F401

            from .messaging import OsloMessagingInstrumentor

            instrumentor = OsloMessagingInstrumentor()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
            _state.instrumentors.append(instrumentor)
        except ImportError:
            LOG.debug("cobalt-trace: oslo.messaging not installed; RPC not traced")
        except Exception as exc:
            LOG.warning("cobalt-trace: oslo.messaging not traced: %s", exc)
    if settings.instrument_periodic_tasks:
        try:
            from .agent import instrument_periodic_tasks

            instrument_periodic_tasks()
        except Exception as exc:
            LOG.warning("cobalt-trace: periodic tasks not traced: %s", exc)


def force_flush(timeout_millis: int = 30000) -> bool:
    """Export every finished span now (tests, and before a process exits)."""
    provider = _state.provider
    return provider.force_flush(timeout_millis) if provider is not None else True


def dropped_spans() -> int:
    """Spans dropped because the export queue was full (the gateway was down or too slow)."""
    processor = _state.processor
    return processor.dropped if processor is not None else 0


def shutdown() -> None:
    """Flush and stop exporting; hooks stay installed but their spans are no longer exported."""
    provider = _state.provider
    if provider is not None:
        provider.shutdown()
