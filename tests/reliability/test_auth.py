"""Auth: the otlp receiver checks `Authorization: Bearer` with `bearertokenauth` (token file),
the otlp exporter adds its own token for the sink.  Wrong or missing tokens get UNAUTHENTICATED /
401, the right one is accepted, and a rotated token file is picked up without a restart."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest
from harness import OtlpClient, SinkProcess, free_port, gateway_yaml, tally, wait_port, wait_until
from reliakit import make_request

pytestmark = pytest.mark.timeout(120)

SINK_TOKEN = "sink-secret-1"


@pytest.fixture
def gateway(tmp_path, collectors):
    sink_port, gw_port, http_port, metrics_port = free_port(), free_port(), free_port(), free_port()
    token_file = tmp_path / "tokens.txt"
    token_file.write_text("alpha-token\n")
    ids_file = tmp_path / "ids.bin"
    config = gateway_yaml(
        receiver_port=gw_port,
        http_port=http_port,
        metrics_port=metrics_port,
        sink_port=sink_port,
        extensions=(
            f"  bearertokenauth/server:\n    filename: {token_file}\n"
            f"  bearertokenauth/client:\n    token: {SINK_TOKEN}"
        ),
        extension_ids=["bearertokenauth/server", "bearertokenauth/client"],
        receiver_extra="\n        auth: {authenticator: bearertokenauth/server}",
        exporter_extra="\n    auth: {authenticator: bearertokenauth/client}",
    )
    sink = SinkProcess(sink_port, ids_file, token=SINK_TOKEN, log=tmp_path / "sink.log")
    proc = collectors(config, "gateway")
    wait_port(gw_port, proc.proc)
    wait_port(http_port, proc.proc)
    wait_port(metrics_port, proc.proc)
    yield {
        "grpc": gw_port,
        "http": http_port,
        "metrics": metrics_port,
        "token_file": token_file,
        "ids": ids_file,
        "proc": proc,
    }
    proc.stop()
    sink.stop()


async def grpc_code(port: int, token: str | None, data: bytes) -> str | None:
    client = OtlpClient(port, token=token or "")
    try:
        return (await client.send(data)).code
    finally:
        await client.close()


async def http_status(port: int, token: str | None, data: bytes) -> int:
    headers = {"Content-Type": "application/x-protobuf"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.post(f"http://127.0.0.1:{port}/v1/traces", content=data, headers=headers)
        return resp.status_code


def test_bearer_tokens_on_receiver_and_exporter_with_rotation(gateway):
    data = make_request(1, 5)

    async def scenario():
        results = {
            "grpc none": await grpc_code(gateway["grpc"], None, data),
            "grpc wrong": await grpc_code(gateway["grpc"], "wrong", data),
            "grpc right": await grpc_code(gateway["grpc"], "alpha-token", data),
            "http none": await http_status(gateway["http"], None, data),
            "http wrong": await http_status(gateway["http"], "wrong", data),
            "http right": await http_status(gateway["http"], "alpha-token", make_request(100, 5)),
        }
        # the exporter's token is what lets the spans into the sink
        await wait_until(lambda: tally(gateway["ids"], [1, 2, 3, 4, 5, 100, 104]).lost == 0, 30, "sink")

        # rotate the token file in place, as a secret mount would; the old token stops working
        token_file = gateway["token_file"]
        token_file.write_text("beta-token-rotated\n")
        os.utime(token_file, (time.time() + 5, time.time() + 5))
        rotation = time.monotonic()
        rotated = make_request(200, 5)
        while await grpc_code(gateway["grpc"], "beta-token-rotated", rotated) is not None:
            assert time.monotonic() - rotation < 15, "the rotated token was not picked up"
            await asyncio.sleep(0.2)
        results["grpc old after rotation"] = await grpc_code(gateway["grpc"], "alpha-token", data)
        results["http new after rotation"] = await http_status(gateway["http"], "beta-token-rotated", data)
        return results, time.monotonic() - rotation

    results, took = asyncio.run(scenario())
    print(f"\nauth: {results}; rotation picked up after {took:.1f}s")
    assert results == {
        "grpc none": "UNAUTHENTICATED",
        "grpc wrong": "UNAUTHENTICATED",
        "grpc right": None,
        "http none": 401,
        "http wrong": 401,
        "http right": 200,
        "grpc old after rotation": "UNAUTHENTICATED",
        "http new after rotation": 200,
    }
    assert gateway["proc"].proc.poll() is None


def test_rejected_requests_are_counted(gateway):
    data = make_request(1, 5)

    async def scenario():
        for token in (None, "wrong", "also-wrong"):
            assert await grpc_code(gateway["grpc"], token, data) == "UNAUTHENTICATED"
        assert await http_status(gateway["http"], "wrong", data) == 401
        async with httpx.AsyncClient(timeout=10) as client:
            return (await client.get(f"http://127.0.0.1:{gateway['metrics']}/metrics")).text

    text = asyncio.run(scenario())
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if not line.startswith("#") and ("unauthenticated" in line.lower() or "auth_fail" in line.lower())
    ]
    assert sum(counted) >= 4, "no metric counts the rejected requests"
