"""health_check: 503 until the collector is ready, 200 with the upstream JSON body after."""

from __future__ import annotations

import asyncio

import httpx

from cobalt_trace.components.extensions.health_check.factory import FACTORY
from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry


def make(raw):
    config, errors = decode(FACTORY.config_type, raw, "extensions::health_check")
    assert errors == []
    settings = CreateSettings(ComponentID("health_check"), Kind.EXTENSION, Telemetry())
    return FACTORY.create(settings, config, None)


def test_status_follows_readiness():
    async def run():
        ext = make({"endpoint": "127.0.0.1:0", "path": "/health"})
        host = Host(Telemetry())
        await ext.start(host)
        url = f"http://127.0.0.1:{ext.port}"
        async with httpx.AsyncClient() as client:
            r = await client.get(url + "/health")
            assert r.status_code == 503
            assert r.json() == {"status": "Server not available"}
            host.ready = True
            r = await client.get(url + "/health")
            assert r.status_code == 200
            body = r.json()
            assert body["status"] == "Server available" and "upSince" in body and "uptime" in body
            assert (await client.get(url + "/other")).status_code == 404
            assert (await client.post(url + "/health")).status_code == 405
            host.ready = False
            assert (await client.get(url + "/health")).status_code == 503
        await ext.shutdown()

    asyncio.run(run())


def test_custom_response_bodies():
    async def run():
        ext = make({"endpoint": "127.0.0.1:0", "response_body": {"healthy": "up", "unhealthy": "down"}})
        host = Host(Telemetry())
        await ext.start(host)
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{ext.port}/")
            assert (r.status_code, r.text) == (503, "down")
            host.ready = True
            r = await client.get(f"http://127.0.0.1:{ext.port}/")
            assert (r.status_code, r.text) == (200, "up")
        await ext.shutdown()

    asyncio.run(run())


def test_config_errors_name_the_key():
    _, errors = decode(FACTORY.config_type, {"path": "health", "bogus": 1}, "extensions::health_check")
    assert "extensions::health_check: has invalid keys: bogus" in errors
