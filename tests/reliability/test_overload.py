"""Overload: memory_limiter first in the pipeline, clients pushing far more than the gateway can
forward to a slow sink.  The gateway's RSS (sampled from /proc) stays under `limit_mib`, clients
are refused with retryable codes carrying a retry delay (gRPC RetryInfo, HTTP Retry-After), the
gateway keeps running, and it takes data again once the load stops."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from harness import (
    RETRYABLE,
    OtlpClient,
    RssSampler,
    SinkProcess,
    free_port,
    gateway_yaml,
    tally,
    wait_port,
    wait_until,
)
from reliakit import make_request

LIMIT_MIB = 200
SPIKE_MIB = 80
LOAD_SECONDS = 12
SPANS_PER_REQUEST = 200
FILLER_BYTES = 2000  # ~400 KB requests: memory fills in seconds, not minutes
SINK_DELAY = 0.15
CONSUMERS = 2

pytestmark = pytest.mark.timeout(180)

MEMORY_LIMITER = (
    "  memory_limiter:\n"
    "    check_interval: 100ms\n"
    "    min_gc_interval_when_soft_limited: 1s\n"
    f"    limit_mib: {LIMIT_MIB}\n"
    f"    spike_limit_mib: {SPIKE_MIB}"
)


async def http_refusal(port: int, data: bytes, until: float) -> tuple[int, str | None] | None:
    """POST to the HTTP receiver until it refuses; returns (status, Retry-After)."""
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < until:
            resp = await client.post(
                f"http://127.0.0.1:{port}/v1/traces",
                content=data,
                headers={"Content-Type": "application/x-protobuf"},
            )
            if resp.status_code != 200:
                return resp.status_code, resp.headers.get("Retry-After")
            await asyncio.sleep(0.2)
    return None


def test_overload_is_refused_retryably_and_memory_stays_bounded(tmp_path, collectors):
    sink_port, gw_port, http_port = free_port(), free_port(), free_port()
    ids_file = tmp_path / "ids.bin"
    config = gateway_yaml(
        receiver_port=gw_port,
        http_port=http_port,
        sink_port=sink_port,
        processors=["memory_limiter"],
        processor_config=MEMORY_LIMITER,
        queue=f"{{num_consumers: {CONSUMERS}, queue_size: 100000}}",  # memory, not the queue, is the bound
    )
    sink = SinkProcess(sink_port, ids_file, delay=SINK_DELAY, log=tmp_path / "sink.log")
    gateway = collectors(config, "gateway")
    wait_port(gw_port, gateway.proc)
    wait_port(http_port, gateway.proc)
    pool = [make_request(i * SPANS_PER_REQUEST, SPANS_PER_REQUEST, filler=FILLER_BYTES) for i in range(16)]
    probe_ids = range(10**9, 10**9 + 10)
    capacity = CONSUMERS / SINK_DELAY * SPANS_PER_REQUEST  # spans/s the sink lets the gateway forward

    async def scenario():
        client = OtlpClient(gw_port)
        stop_at = time.monotonic() + LOAD_SECONDS
        attempts = 0

        async def worker(k: int) -> None:  # a well-behaved client: honours RetryInfo
            nonlocal attempts
            i = k
            while time.monotonic() < stop_at:
                attempts += 1
                result = await client.send(pool[i % len(pool)])
                i += 1
                if result.code is None:
                    client.stats.accepted_spans += SPANS_PER_REQUEST
                elif result.code in RETRYABLE:
                    await asyncio.sleep(result.retry_after or 0.1)
                else:
                    raise AssertionError(f"non-retryable refusal {result.code}")

        try:
            _, http = await asyncio.gather(
                asyncio.gather(*(worker(k) for k in range(16))),
                http_refusal(http_port, pool[0], stop_at),
            )
            assert gateway.proc.poll() is None, "gateway died under load"
            load_ended = time.monotonic()
            probe = make_request(probe_ids[0], len(probe_ids))
            while (await client.send(probe)).code is not None:
                assert time.monotonic() - load_ended < 60, "gateway did not take data again"
                await asyncio.sleep(0.2)
            recovery = time.monotonic() - load_ended
        finally:
            await client.close()
        delivered = await wait_until(lambda: tally(ids_file, probe_ids).lost == 0, 90, "probe at the sink")
        return client.stats, attempts, http, recovery, recovery + delivered

    try:
        with RssSampler(gateway.proc.pid) as rss:
            stats, attempts, http, recovery, delivered = asyncio.run(scenario())
    finally:
        gateway.stop()
        sink.stop()
    offered = attempts * SPANS_PER_REQUEST / LOAD_SECONDS
    print(
        f"\noverload {LOAD_SECONDS}s: offered {offered:.0f} spans/s against a forwarding capacity of "
        f"{capacity:.0f} spans/s; accepted {stats.accepted_spans}; refusals {dict(stats.codes)} "
        f"({stats.with_retry_info} with RetryInfo); HTTP {http}; peak RSS {rss.peak / 2**20:.0f} MiB "
        f"(limit {LIMIT_MIB} MiB); took data again {recovery:.1f}s after the load stopped, "
        f"forwarded it {delivered:.1f}s after (the backlog drained)"
    )
    assert rss.samples > 10
    assert rss.peak < LIMIT_MIB * 2**20
    assert stats.codes and set(stats.codes) <= {"UNAVAILABLE", "RESOURCE_EXHAUSTED"}
    assert stats.with_retry_info == sum(stats.codes.values())  # every refusal says when to retry
    assert http is not None and http[0] in (429, 503) and http[1] is not None
    assert gateway.proc.returncode == 0, gateway.output()[-3000:]
    assert "Memory usage above the soft limit" in gateway.output()
