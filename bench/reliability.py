"""Reliability at full size: sink outage, gateway crash, overload — spans lost, duplicates, peak RSS
of the gateway, recovery time — as a markdown table, also written to BENCHMARKS.md.

Scenarios (real processes over loopback; the sink is `tests/reliability/span_sink.py`, which
records every span id it acknowledges):

- outage: 200,000 spans (1,000 per request) flow gateway (otlp → batch → otlp, in-memory
  sending queue, retry forever) → sink; the sink is down for 60 s in the middle (the CI test
  `tests/reliability/test_outage_and_crash.py` uses 10 s).  Recovery: from the sink's return until
  the last span arrived.
- crash: persistent queue (`file_storage`), no batch processor, sink down; clients send 200,000
  spans and the gateway is `kill -9`ed after 100 requests were acknowledged, restarted, then the
  sink starts.  Lost = acknowledged spans that never arrived.  Recovery: from the sink's start
  until every acknowledged span arrived.
- overload: memory_limiter first (limit 200 MiB, spike 80 MiB); the sink answers each request
  after 150 ms and the exporter has 2 consumers, so the gateway can forward 2,667 spans/s
  (200-span requests of ~400 KB); new data is offered at 3x that for 60 s by up to 512 clients that
  honour RetryInfo and give a request up after 10 s, as SDK exporters do; the receiver allows 16 concurrent streams per connection, since requests
  buffered inside grpc are memory the limiter cannot see.  Lost = spans the gateway accepted that never arrived.  Recovery: from the end of the
  load until a probe request is accepted and has reached the sink.

    .venv/bin/python bench/reliability.py [--outage 60] [--overload 60] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, write_section

sys.path[:0] = [str(ROOT / "tests" / "reliability"), str(ROOT / "tests")]

from harness import (  # noqa: E402
    OtlpClient,
    RssSampler,
    SinkProcess,
    free_port,
    gateway_yaml,
    kill9,
    tally,
    wait_port,
    wait_until,
)
from reliakit import make_request  # noqa: E402

CLI = [sys.executable, "-m", "cobalt_trace.cli.main", "collector", "--config"]
CLIENTS = 512  # overload: at most this many requests in flight (each client retries its own)
GIVE_UP = 10.0  # overload: a client drops a request it could not deliver for this long, as SDKs do


class Gateway:
    def __init__(self, workdir: Path, name: str, config: str, port: int):
        path = workdir / f"{name}.yaml"
        path.write_text(config)
        self.log = workdir / f"{name}.log"
        self.proc = subprocess.Popen(CLI + [str(path)], stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))
        wait_port(port, self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def row(name: str, lost, duplicates, peak_rss: int, recovery: float, note: str) -> dict:
    return {
        "scenario": name,
        "lost": lost,
        "duplicates": duplicates,
        "peak_rss_mib": peak_rss / 2**20,
        "recovery_s": recovery,
        "note": note,
    }


async def send_all(client: OtlpClient, reqs: list[bytes], spans_each: int, concurrency: int = 4) -> None:
    pending = list(reversed(reqs))

    async def worker():
        while pending:
            data = pending.pop()
            if not await client.send_until_accepted(data, spans_each, give_up=600):
                raise RuntimeError("the gateway refused a request for good")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def outage(workdir: Path, outage_seconds: float) -> dict:
    total, per = 200_000, 1000
    sink_port, gw_port = free_port(), free_port()
    ids = workdir / "outage-ids.bin"
    config = gateway_yaml(
        receiver_port=gw_port, sink_port=sink_port, processors=["batch"], processor_config="  batch: {}"
    )
    sinks = [SinkProcess(sink_port, ids)]
    gateway = Gateway(workdir, "outage", config, gw_port)
    reqs = [make_request(i * per, per) for i in range(total // per)]

    async def scenario() -> float:
        client = OtlpClient(gw_port)
        half = len(reqs) // 2
        try:
            await send_all(client, reqs[:half], per)
            await wait_until(lambda: tally(ids, range(total)).unique >= total // 4, 120, "first spans")
            sinks[0].stop()
            down = time.monotonic()
            await send_all(client, reqs[half:], per)
            await asyncio.sleep(max(0.0, outage_seconds - (time.monotonic() - down)))
        finally:
            await client.close()
        sinks.append(SinkProcess(sink_port, ids))
        return await wait_until(lambda: tally(ids, range(total)).unique >= total, 600, "all spans", 0.25)

    try:
        with RssSampler(gateway.proc.pid) as rss:
            recovery = asyncio.run(scenario())
    finally:
        gateway.stop()
        for s in sinks:
            s.stop()
    t = tally(ids, range(total))
    return row(
        f"sink outage {outage_seconds:.0f}s",
        t.lost,
        t.duplicates,
        rss.peak,
        recovery,
        f"{total:,} spans; recovery = sink back → last span delivered",
    )


def crash(workdir: Path) -> dict:
    per, count, kill_after = 1000, 200, 100
    sink_port, gw_port = free_port(), free_port()
    queue_dir = workdir / "queue"
    queue_dir.mkdir()
    ids = workdir / "crash-ids.bin"
    config = gateway_yaml(
        receiver_port=gw_port,
        sink_port=sink_port,
        queue="{storage: file_storage, num_consumers: 4, queue_size: 5000}",
        extensions=f"  file_storage:\n    directory: {queue_dir}",
        extension_ids=["file_storage"],
    )
    first = Gateway(workdir, "crash-1", config, gw_port)
    acked: list[int] = []

    async def send_until_killed() -> None:
        client = OtlpClient(gw_port, timeout=5)
        pending = list(reversed(range(count)))
        killed = asyncio.Event()

        async def worker():
            while pending and not killed.is_set():
                i = pending.pop()
                if (await client.send(make_request(i * per, per))).code is None:
                    acked.append(i * per)
                    if len(acked) == kill_after:
                        kill9(first.proc)
                        killed.set()

        try:
            await asyncio.gather(*(worker() for _ in range(4)))
        finally:
            await client.close()

    with RssSampler(first.proc.pid) as rss1:
        asyncio.run(send_until_killed())
    must = [i for a in acked for i in range(a, a + per)]
    second = Gateway(workdir, "crash-2", config, gw_port)
    sink = SinkProcess(sink_port, ids)
    try:
        with RssSampler(second.proc.pid) as rss2:
            recovery = asyncio.run(wait_until(lambda: tally(ids, must).lost == 0, 600, "acked spans", 0.25))
    finally:
        second.stop()
        sink.stop()
    t = tally(ids, must)
    return row(
        "gateway kill -9 (persistent queue)",
        t.lost,
        t.duplicates,
        max(rss1.peak, rss2.peak),
        recovery,
        f"{len(must):,} spans acknowledged before the kill; recovery = sink up → all delivered",
    )


def overload(workdir: Path, seconds: float) -> dict:
    per, filler, delay, consumers = 200, 2000, 0.15, 2
    capacity = consumers / delay * per
    rate = 3 * capacity / per  # new requests per second
    sink_port, gw_port = free_port(), free_port()
    ids = workdir / "overload-ids.bin"
    limiter = (
        "  memory_limiter:\n    check_interval: 100ms\n    min_gc_interval_when_soft_limited: 0s\n"
        "    limit_mib: 200\n    spike_limit_mib: 80"
    )
    config = gateway_yaml(
        receiver_port=gw_port,
        sink_port=sink_port,
        processors=["memory_limiter"],
        processor_config=limiter,
        queue=f"{{num_consumers: {consumers}, queue_size: 100000}}",
        # requests waiting in grpc's buffers are outside the memory limiter's reach: bound them
        receiver_extra="\n        max_concurrent_streams: 16",
    )
    sink = SinkProcess(sink_port, ids, delay=delay)
    gateway = Gateway(workdir, "overload", config, gw_port)
    accepted_ids: list[int] = []
    given_up: list[int] = []

    async def scenario():
        client = OtlpClient(gw_port)
        tasks: set[asyncio.Task] = set()
        offered = 0

        async def one(first_id: int) -> None:
            data = make_request(first_id, per, filler=filler)
            if await client.send_until_accepted(data, per, give_up=GIVE_UP):
                accepted_ids.append(first_id)
            else:
                given_up.append(first_id)

        start = time.monotonic()
        while (now := time.monotonic()) - start < seconds:
            due = int((now - start) * rate)
            while offered < due and len(tasks) < CLIENTS:
                task = asyncio.create_task(one(offered * per))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                offered += 1
            await asyncio.sleep(0.01)
        load_end = time.monotonic()
        if tasks:
            await asyncio.wait(tasks, timeout=GIVE_UP + 5)  # the last offered data may still be retried
        probe = list(range(10**12, 10**12 + 10))
        while (await client.send(make_request(probe[0], len(probe)))).code is not None:
            await asyncio.sleep(0.1)
        await wait_until(lambda: tally(ids, probe).lost == 0, 600, "probe delivered", 0.25)
        recovery = time.monotonic() - load_end
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats = client.stats
        await client.close()
        return offered, stats, recovery

    try:
        with RssSampler(gateway.proc.pid) as rss:
            offered, stats, recovery = asyncio.run(scenario())
            must = [i for a in accepted_ids for i in range(a, a + per)]
            asyncio.run(wait_until(lambda: tally(ids, must).lost == 0, 600, "accepted spans", 0.25))
        alive = gateway.proc.poll() is None
    finally:
        gateway.stop()
        sink.stop()
    t = tally(ids, must)
    refusals = ", ".join(f"{k} {v}" for k, v in stats.codes.items()) or "none"
    others = "".join(f"without it: {code} '{msg}'; " for code, msg in stats.without_retry_info.items())
    return row(
        f"overload 3x for {seconds:.0f}s",
        t.lost,
        t.duplicates,
        rss.peak,
        recovery,
        f"limit_mib 200; offered {offered * per / seconds:,.0f} new spans/s vs {capacity:,.0f} "
        f"forwardable; clients gave up on {len(given_up) * per:,} spans after {GIVE_UP:g}s of refusals "
        f"(never acknowledged, so not lost); refusals: {refusals} ({stats.with_retry_info} with RetryInfo); "
        f"{others}gateway {'alive' if alive else 'DIED'}; recovery = load end → probe delivered",
    )


def table(rows: list[dict]) -> str:
    lines = [
        "| scenario | spans lost | duplicates | peak RSS (MiB) | recovery (s) | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['lost']} | {r['duplicates']} | {r['peak_rss_mib']:.0f} | "
            f"{r['recovery_s']:.1f} | {r['note']} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outage", type=float, default=60.0, help="seconds the sink is down")
    ap.add_argument("--overload", type=float, default=60.0, help="seconds of 3x load")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cobalt-reliability-") as tmp:
        workdir = Path(tmp)
        rows = []
        for name, run in (
            ("outage", lambda: outage(workdir, args.outage)),
            ("crash", lambda: crash(workdir)),
            ("overload", lambda: overload(workdir, args.overload)),
        ):
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows.append(run())
    text = table(rows)
    print(text)
    if not args.no_write:
        body = (
            f"Command: `.venv/bin/python bench/reliability.py --outage {args.outage:g} "
            f"--overload {args.overload:g}`; {machine()}.  Scenarios are described in the script's "
            "docstring; duplicates are spans delivered more than once (at-least-once delivery).\n\n" + text
        )
        write_section("Reliability (bench/reliability.py)", body)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
