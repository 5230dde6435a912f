"""Shared fixtures of the cobalt-trace-openstack tests.

The OpenTelemetry global TracerProvider can be set once per process, so the in-process tests share
one ``setup()`` (the real one, with an in-memory exporter behind the credential scrubber) and
clear the exporter per test. Tests of set-up itself use subprocesses or the pure builders.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from os_otlp_sink import OtlpSink  # noqa: E402


@pytest.fixture(scope="session")
def os_tracing():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import cobalt_trace_openstack
    from cobalt_trace_openstack import _state

    # The worst case for credential leaks: the operator asked the requests instrumentation to
    # capture every header. These are read while setup() instruments; restored right after so
    # other tests in this worker (and their subprocesses) see the environment they expect.
    saved = dict(os.environ)
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST"] = ".*"
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE"] = ".*"
    exporter = InMemorySpanExporter()
    try:
        provider = cobalt_trace_openstack.setup("os-test", cluster="test-cluster", exporter=exporter)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert provider is not None and _state.provider is provider
    yield exporter
    # Leave other tests in this worker process unpatched.
    from cobalt_trace_openstack.agent import uninstrument_periodic_tasks

    for instrumentor in _state.instrumentors:
        instrumentor.uninstrument()
    uninstrument_periodic_tasks()


class SpanReader:
    def __init__(self, exporter):
        self.exporter = exporter

    def get(self):
        import cobalt_trace_openstack

        cobalt_trace_openstack.force_flush()
        return list(self.exporter.get_finished_spans())

    def named(self, name):
        return [s for s in self.get() if s.name == name]

    def one(self, name):
        found = self.named(name)
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.get()]}"
        return found[0]


@pytest.fixture
def spans(os_tracing):
    import cobalt_trace_openstack

    cobalt_trace_openstack.force_flush()
    os_tracing.clear()
    return SpanReader(os_tracing)


@pytest.fixture
def otlp_sink():
    sink = OtlpSink()
    sink.start()
    yield sink
    sink.stop()
