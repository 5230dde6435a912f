"""The collector wiring: trace_store extension + trace_store exporter + trace_query extension,
decoded from YAML-shaped config, on one loop; data survives a restart with the chdb engine."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.errors import PermanentError
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.wire.batch import SpanBatch
from store.helpers import make_batch


def _factory(kind: str, type_: str):
    import importlib

    return importlib.import_module(f"cobalt_trace.components.{kind}.{type_}.factory").FACTORY


def _make(kind: str, type_: str, raw: dict):
    factory = _factory(kind, type_)
    config, errors = decode(factory.config_type, raw)
    assert errors == []
    settings = CreateSettings(ComponentID(type_), Kind(kind), Telemetry())
    return factory.create(settings, config, None)


async def _run_collector(store_cfg: dict, batch: SpanBatch) -> dict:
    store = _make("extensions", "trace_store", store_cfg)
    query = _make("extensions", "trace_query", {"endpoint": "127.0.0.1:0"})
    exporter = _make("exporters", "trace_store", {"sending_queue": {"wait_for_result": True}})
    host = Host(Telemetry(), {ComponentID("trace_store"): store, ComponentID("trace_query"): query})
    await store.start(host)
    await query.start(host)
    await exporter.start(host)
    try:
        await exporter.consume(batch)
        with pytest.raises(PermanentError):  # the queue reports the send's verdict
            await exporter.consume(SpanBatch(data=b"\x0a\x04\x0a\x02\xff\xff"))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{query.port}") as client:
            services = (await client.get("/api/services")).json()["data"]
            found = (await client.get("/api/search", params={"q": "{}", "limit": "1000"})).json()["traces"]
    finally:
        await exporter.shutdown()
        await query.shutdown()
        await store.shutdown()
    return {"services": services, "traces": len(found), "inserts": store.writer.inserts}


def test_memory_engine_end_to_end():
    batch = make_batch(traces=10)
    got = asyncio.run(_run_collector({"engine": "memory", "flush_interval": "50ms"}, batch))
    assert "nova-api" in got["services"] and got["traces"] == 10 and got["inserts"] == 1


def test_chdb_engine_survives_restart(tmp_path):
    pytest.importorskip("chdb", reason="chdb is not installed (the cobalt-trace[store] extra)")
    cfg = {"engine": "chdb", "path": str(tmp_path / "data"), "flush_interval": "50ms"}
    first = asyncio.run(_run_collector(cfg, make_batch(traces=10, seed=1)))
    assert first["traces"] == 10
    second = asyncio.run(_run_collector(cfg, make_batch(traces=5, seed=2)))
    assert second["traces"] == 15


def test_config_errors_name_the_key():
    factory = _factory("extensions", "trace_store")
    _, errors = decode(factory.config_type, {"engine": "clickhouse", "max_size": "lots", "bogus": 1})
    text = "\n".join(errors)
    assert "bogus" in text
    _, errors = decode(factory.config_type, {"engine": "clickhouse", "max_size": "lots"})
    assert any(e.startswith("dsn:") for e in errors) and any(e.startswith("max_size:") for e in errors)
