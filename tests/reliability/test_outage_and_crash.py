"""Real processes over loopback: a gateway (`cobalt-trace collector`) exporting to a recording sink.

- Outage: 200,000 spans; the sink is down for OUTAGE_SECONDS in the middle (10 s here to keep the
  suite fast; `bench/reliability.py` runs the issue's 60 s); every span arrives, duplicates counted.
- Crash: persistent queue, sink down, the gateway is `kill -9`ed while clients are sending,
  its newest queue file gets a torn tail, it is restarted and the sink comes back: every span the
  gateway acknowledged arrives.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from harness import OtlpClient, SinkProcess, free_port, gateway_yaml, kill9, tally, wait_port, wait_until
from reliakit import make_request

OUTAGE_SECONDS = 10
TOTAL_SPANS = 200_000
SPANS_PER_REQUEST = 1000

pytestmark = pytest.mark.timeout(180)

# ExporterHelper.start(host) is how the persistent queue finds its file_storage extension.


def requests(first: int, count: int, per_request: int = SPANS_PER_REQUEST) -> list[tuple[int, bytes]]:
    return [
        (first + i * per_request, make_request(first + i * per_request, per_request)) for i in range(count)
    ]


async def send_all(client: OtlpClient, reqs, concurrency: int = 4) -> None:
    queue = list(reversed(reqs))

    async def worker():
        while queue:
            _, data = queue.pop()
            assert await client.send_until_accepted(data, SPANS_PER_REQUEST), "gateway refused for good"

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def test_sink_outage_loses_nothing(tmp_path, collectors):
    sink_port, gw_port = free_port(), free_port()
    ids_file = tmp_path / "ids.bin"
    received = lambda: tally(ids_file, range(TOTAL_SPANS))  # noqa: E731
    config = gateway_yaml(
        receiver_port=gw_port,
        sink_port=sink_port,
        processors=["batch"],
        processor_config="  batch: {}",
        queue="{num_consumers: 4, queue_size: 1000}",
    )
    sinks = [SinkProcess(sink_port, ids_file, log=tmp_path / "sink.log")]
    gateway = collectors(config, "gateway")
    wait_port(gw_port, gateway.proc)
    half = TOTAL_SPANS // 2 // SPANS_PER_REQUEST

    async def scenario() -> float:
        client = OtlpClient(gw_port)
        try:
            await send_all(client, requests(0, half))
            await wait_until(lambda: received().unique >= TOTAL_SPANS // 4, 60, "first spans at the sink")
            sinks[0].stop()  # down in the middle of the flow
            outage_started = time.monotonic()
            await send_all(client, requests(half * SPANS_PER_REQUEST, half))
            assert client.stats.accepted_spans == TOTAL_SPANS
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
            assert received().unique < TOTAL_SPANS  # the outage really held data back
        finally:
            await client.close()
        sinks.append(SinkProcess(sink_port, ids_file, log=tmp_path / "sink.log"))  # back, same port
        return await wait_until(lambda: received().unique >= TOTAL_SPANS, 120, "all spans after the outage")

    try:
        recovery = asyncio.run(scenario())
    finally:
        gateway.stop()
        for sink in sinks:
            sink.stop()
    t = received()
    print(
        f"\noutage {OUTAGE_SECONDS}s: sent {TOTAL_SPANS} spans, lost {t.lost}, duplicates {t.duplicates}, "
        f"all delivered {recovery:.1f}s after the sink returned"
    )
    assert t.lost == 0
    assert gateway.proc.returncode == 0, gateway.output()[-3000:]


def test_kill_9_with_persistent_queue_loses_no_acknowledged_span(tmp_path, collectors):
    sink_port, gw_port = free_port(), free_port()
    queue_dir = tmp_path / "queue"
    queue_dir.mkdir()
    ids_file = tmp_path / "ids.bin"
    config = gateway_yaml(
        receiver_port=gw_port,
        sink_port=sink_port,
        # no batch processor: it acknowledges before the data reaches the queue on disk
        queue="{storage: file_storage, num_consumers: 4, queue_size: 5000}",
        extensions=f"  file_storage:\n    directory: {queue_dir}",
        extension_ids=["file_storage"],
    )
    first = collectors(config, "gateway-1")
    wait_port(gw_port, first.proc)
    acked: list[int] = []  # first span id of every request the gateway answered OK

    async def send_until_killed() -> None:
        client = OtlpClient(gw_port, timeout=5)
        pending = list(reversed(requests(0, 200, 250)))
        killed = asyncio.Event()

        async def worker():
            while pending and not killed.is_set():
                first_id, data = pending.pop()
                result = await client.send(data)
                if result.code is None:
                    acked.append(first_id)
                    if len(acked) == 60:
                        kill9(first.proc)  # while the other workers are mid-request
                        killed.set()
                elif killed.is_set():
                    return

        try:
            await asyncio.gather(*(worker() for _ in range(4)))
        finally:
            await client.close()

    asyncio.run(send_until_killed())
    assert first.proc.returncode == -9
    segments = sorted(queue_dir.glob("*/seg-*.log"))
    assert segments, "nothing was written to the queue directory"
    with open(segments[-1], "ab") as f:
        f.write(os.urandom(37))  # a write torn by the crash

    second = collectors(config, "gateway-2")
    wait_port(gw_port, second.proc)
    must_arrive = [i for first_id in acked for i in range(first_id, first_id + 250)]
    sink = SinkProcess(sink_port, ids_file, log=tmp_path / "sink.log")
    try:
        asyncio.run(
            wait_until(lambda: tally(ids_file, must_arrive).lost == 0, 90, "acknowledged spans after restart")
        )
    finally:
        second.stop()
        sink.stop()
    t = tally(ids_file, must_arrive)
    print(
        f"\nkill -9: {len(must_arrive)} spans acknowledged before the crash, lost {t.lost}, "
        f"received {t.received} ({t.duplicates} duplicates)"
    )
    assert t.lost == 0
    log = second.output()
    assert "is corrupt" in log and "moved the damaged file to" in log
    assert "resuming" in log
