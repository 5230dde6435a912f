"""The UI served by the collector's own `trace_query` extension over the chDB engine: spans go
in through the `trace_store` exporter, the browser reads them back through the UI."""

from __future__ import annotations

import asyncio
import importlib
import threading

import pytest

from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.store import records_to_traces_data
from cobalt_trace.wire.batch import SpanBatch

from .synthetic import build_trace

pytest.importorskip("chdb", reason="chdb is not installed (the cobalt-trace[store] extra)")
pytestmark = pytest.mark.timeout(120)


def _make(kind: str, type_: str, raw: dict):
    factory = importlib.import_module(f"cobalt_trace.components.{kind}.{type_}.factory").FACTORY
    config, errors = decode(factory.config_type, raw)
    assert errors == []
    return factory.create(CreateSettings(ComponentID(type_), Kind(kind), Telemetry()), config, None)


@pytest.fixture
def collector(tmp_path):
    """trace_store (chdb) + trace_query + the trace_store exporter on a loop thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    run = lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result(60)  # noqa: E731
    store = _make("extensions", "trace_store", {"engine": "chdb", "path": str(tmp_path / "data")})
    query = _make("extensions", "trace_query", {"endpoint": "127.0.0.1:0"})
    exporter = _make("exporters", "trace_store", {"sending_queue": {"wait_for_result": True}})
    host = Host(Telemetry(), {ComponentID("trace_store"): store, ComponentID("trace_query"): query})
    started = []
    try:
        for component in (store, query, exporter):
            run(component.start(host))
            started.append(component)
        yield run, exporter, f"http://127.0.0.1:{query.port}"
    finally:
        for component in reversed(started):
            run(component.shutdown())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_ui_over_the_collector_with_chdb(collector, browser):
    run, exporter, base = collector
    spans = build_trace(60, seed=21, error=True) + build_trace(16, seed=22)
    run(exporter.consume(SpanBatch(data=records_to_traces_data(spans).SerializeToString())))
    trace_id, request_id = spans[0].trace_id, spans[0].attributes["openstack.request_id"]

    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/search?service=libvirt")
        page.wait_for_selector("body[data-ready=search]")
        assert page.locator(".results-table tbody tr").count() == 2
        page.locator(".results-table tbody tr.has-errors .trace-link").click()
        page.wait_for_selector("body[data-ready=trace]")
        assert page.url.endswith(f"/trace/{trace_id}")
        assert page.inner_text("[data-testid=span-count]") == "60"
        assert page.locator(".cluster-path .cname").all_inner_texts() == [
            "management",
            "control-plane",
            "hypervisor",
        ]
        page.goto(f"/request/{request_id}")
        page.wait_for_selector("body[data-ready=request]")
        assert page.locator(".trace-cards li").count() == 1
        assert errors == []
    finally:
        context.close()
