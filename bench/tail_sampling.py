"""Tail sampling on one core: the seed pipeline `resource → tail_sampling → batch`, in process.

    .venv/bin/python bench/tail_sampling.py [--requests 300] [--write]

Two measurements, each printed as a markdown table row (`--write` also replaces the
"tail_sampling" section of BENCHMARKS.md):

1. Throughput, in spans per CPU-second of this process.  Requests of 1024 spans (~100 traces of
   ~10 spans, each trace split over two consecutive requests, 10% with an ERROR span, 10% longer
   than 1 s) go through the seed's processors: `resource` upserts `cluster`, `tail_sampling` runs
   the seed's three policies with `decision_wait: 2s`, `batch` (defaults) hands batches to a sink
   that serializes them as an exporter would.  Time is simulated (a manual clock advances as if
   spans arrived at 300k/s), so decisions run every 100 ms of simulated time, interleaved with
   ingest as on a live gateway; CPU time covers ingest, decisions, batching and serialization.
   Requests are generated before timing starts; gRPC in/out is not included.
2. Memory: in a fresh process, 1M spans buffered in `tail_sampling` (decision_wait long enough
   that nothing is released); RSS growth divided by the number of buffered spans.

Both runs use the collector's process tuning (`collector.tuning`: mallopt, gc thresholds, frozen
start-up objects).  The process is single-threaded, so spans per CPU-second is spans per core.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opentelemetry.proto.trace.v1 import trace_pb2  # noqa: E402

from cobalt_trace.collector.tuning import freeze_startup_objects, tune_process  # noqa: E402
from cobalt_trace.components.processors.tail_sampling.factory import FACTORY as TAIL  # noqa: E402
from cobalt_trace.components.processors.tail_sampling.processor import TailSamplingProcessor  # noqa: E402
from cobalt_trace.components.processors.tail_sampling.wire import assemble  # noqa: E402
from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind  # noqa: E402
from cobalt_trace.pipeline.configtypes import decode  # noqa: E402
from cobalt_trace.pipeline.telemetry import Telemetry  # noqa: E402
from cobalt_trace.wire.batch import SpanBatch  # noqa: E402

SPANS_PER_REQUEST = 1024
SPANS_PER_TRACE = 10
SIMULATED_RATE = 300_000  # spans/s of simulated time
SEED_TAIL = {
    "decision_wait": "2s",
    "num_traces": 200_000,
    "policies": [
        {"name": "error-traces", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
        {"name": "slow-traces", "type": "latency", "latency": {"threshold_ms": 1000}},
        {"name": "probabilistic", "type": "probabilistic", "probabilistic": {"sampling_percentage": 10}},
    ],
}
RESOURCE = {"attributes": [{"key": "cluster", "value": "control-plane", "action": "upsert"}]}


# -- synthetic spans ------------------------------------------------------------------------------------
def _template(name: str, *, dur_ms: int, status: int, root: bool, attrs: dict) -> bytes:
    s = trace_pb2.Span(
        trace_id=bytes(16),
        span_id=bytes(8),
        parent_span_id=b"" if root else b"\x01" * 8,
        name=name,
        kind=2,
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_000_000_000 + dur_ms * 1_000_000,
    )
    s.status.code = status
    for k, v in attrs.items():
        kv = s.attributes.add(key=k)
        if isinstance(v, int):
            kv.value.int_value = v
        else:
            kv.value.string_value = v
    data = s.SerializeToString()
    assert data[:2] == b"\x0a\x10" and data[18:20] == b"\x12\x08"  # trace_id, span_id lead the message
    return data


_ATTRS = {
    "http.request.method": "GET",
    "url.path": "/v2.1/servers/detail",
    "http.response.status_code": 200,
    "server.address": "nova-api.openstack.svc",
    "openstack.request_id": "req-3f2a6c1e-8d4b-4e59-9a7b-0c1d2e3f4a5b",
}
TEMPLATES = {
    "ok": _template("GET /v2.1/servers/detail", dur_ms=12, status=1, root=False, attrs=_ATTRS),
    "root": _template("GET /v2.1/servers/detail", dur_ms=40, status=1, root=True, attrs=_ATTRS),
    "slow_root": _template("GET /v2.1/servers/detail", dur_ms=1500, status=1, root=True, attrs=_ATTRS),
    "error": _template("GET /v2.1/servers/detail", dur_ms=12, status=2, root=False, attrs=_ATTRS),
}
RESOURCE_BYTES = trace_pb2.ResourceSpans(
    resource={"attributes": [{"key": "service.name", "value": {"string_value": "nova-api"}}]}
).resource.SerializeToString()
SCOPE_BYTES = b"\x0a\x1dopentelemetry.instrumentation"


def _span(template: bytes, tid: bytes, sid: bytes) -> bytes:
    return b"\x0a\x10" + tid + b"\x12\x08" + sid + template[28:]


class Generator:
    """Requests of 1024 spans; every trace's spans are split over two consecutive requests."""

    def __init__(self, seed: int = 1):
        self.rnd = random.Random(seed)
        self.carry: list[bytes] = []
        self.n = 0

    def _trace(self) -> list[bytes]:
        tid = self.rnd.randbytes(16)
        kind = self.n % 10
        self.n += 1
        out = [_span(TEMPLATES["slow_root" if kind == 1 else "root"], tid, self.rnd.randbytes(8))]
        for j in range(1, SPANS_PER_TRACE):
            tmpl = TEMPLATES["error" if kind == 0 and j == 5 else "ok"]
            out.append(_span(tmpl, tid, self.rnd.randbytes(8)))
        return out

    def request(self) -> bytes:
        spans, self.carry = self.carry, []
        while len(spans) < SPANS_PER_REQUEST:
            trace = self._trace()
            spans.extend(trace[: SPANS_PER_TRACE // 2])
            self.carry.extend(trace[SPANS_PER_TRACE // 2 :])
        spans, rest = spans[:SPANS_PER_REQUEST], spans[SPANS_PER_REQUEST:]
        self.carry = rest + self.carry
        data, _ = assemble({(RESOURCE_BYTES, "", SCOPE_BYTES, ""): spans})
        return data


# -- pipeline --------------------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Sink:
    mutates_data = False

    def __init__(self):
        self.spans = 0
        self.bytes = 0

    async def consume(self, batch: SpanBatch) -> None:
        self.bytes += len(batch.to_bytes())  # what an exporter puts on the wire
        self.spans += batch.span_count


def settings(type_: str, telemetry: Telemetry) -> CreateSettings:
    return CreateSettings(id=ComponentID(type_), kind=Kind.PROCESSOR, telemetry=telemetry)


def build_tail(next_consumer, clock, telemetry, **overrides) -> TailSamplingProcessor:
    config, errors = decode(TAIL.config_type, {**SEED_TAIL, **overrides}, "tail_sampling")
    assert not errors, errors
    return TailSamplingProcessor(settings("tail_sampling", telemetry), config, next_consumer, clock=clock)


def build_pipeline(clock):
    """resource → tail_sampling → batch → sink; (first consumer, processors, sink, note)."""
    telemetry = Telemetry()
    sink = Sink()
    try:
        from cobalt_trace.components.processors.batch.factory import FACTORY as BATCH
        from cobalt_trace.components.processors.resource.factory import FACTORY as RES
    except ImportError:
        tail = build_tail(sink, clock, telemetry)
        return tail, [tail], sink, "tail_sampling alone (resource/batch processors not available)"
    batch_cfg, errors = decode(BATCH.config_type, {}, "batch")
    assert not errors, errors
    batch = BATCH.create(settings("batch", telemetry), batch_cfg, sink)
    tail = build_tail(batch, clock, telemetry)
    res_cfg, errors = decode(RES.config_type, RESOURCE, "resource")
    assert not errors, errors
    resource = RES.create(settings("resource", telemetry), res_cfg, tail)
    return resource, [resource, tail, batch], sink, "resource → tail_sampling → batch"


def pin(cpu: int | None) -> str:
    """Optionally pin to one CPU.  Off by default: on a shared 2-core machine a pinned process
    loses its caches to whatever else runs there and measured ~1.7x more CPU time per span."""
    if cpu is None:
        return "not pinned (one thread; CPU time is what is measured)"
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


async def throughput(n_requests: int) -> dict:
    gen = Generator(seed=1)
    requests = [gen.request() for _ in range(n_requests)]
    clock = Clock()
    first, processors, sink, note = build_pipeline(clock)
    for p in processors:
        await p.start(None)
    tail = next(p for p in processors if isinstance(p, TailSamplingProcessor))
    step = SPANS_PER_REQUEST / SIMULATED_RATE
    next_tick = 0.1
    freeze_startup_objects()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for data in requests:
        await first.consume(SpanBatch.from_bytes(data, validate=False))
        clock.t += step
        if clock.t >= next_tick:
            next_tick += 0.1
            await tail.decide_due()
    clock.t += 3.0  # every remaining trace falls due
    await tail.decide_due()
    for p in processors[::-1]:
        await p.shutdown()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    spans_in = n_requests * SPANS_PER_REQUEST
    return {
        "pipeline": note,
        "spans_in": spans_in,
        "spans_out": sink.spans,
        "cpu_s": cpu,
        "wall_s": wall,
        "spans_per_cpu_s": spans_in / cpu,
        "avg_span_bytes": sum(len(t) for t in TEMPLATES.values()) / len(TEMPLATES),
    }


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def memory(n_spans: int) -> dict:
    clock = Clock()
    sink = Sink()
    tail = build_tail(sink, clock, Telemetry(), decision_wait="1h")
    gen = Generator(seed=2)
    await tail.consume(SpanBatch.from_bytes(gen.request(), validate=False))  # warm caches and tables
    buffered0 = tail.traces_in_memory
    freeze_startup_objects()
    before = rss()
    fed = SPANS_PER_REQUEST
    while fed < n_spans + SPANS_PER_REQUEST:
        await tail.consume(SpanBatch.from_bytes(gen.request(), validate=False))
        fed += SPANS_PER_REQUEST
    gc.collect()
    after = rss()
    buffered = fed - SPANS_PER_REQUEST - len(gen.carry)  # spans of traces still being split arrive later
    return {
        "buffered_spans": buffered,
        "traces": tail.traces_in_memory - buffered0,
        "rss_growth_mb": (after - before) / 2**20,
        "rss_per_span": (after - before) / buffered,
        "released": sink.spans,
    }


def _scan_note() -> str:
    from cobalt_trace.wire.spanview import scan_spans_native

    return "native span scanner" if scan_spans_native is not None else "pure-Python span scan"


SCAN_NOTE = _scan_note()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300, help="requests of 1024 spans for the throughput run")
    ap.add_argument("--runs", type=int, default=7, help="throughput runs; the median is reported")
    ap.add_argument("--spans", type=int, default=1_000_000, help="spans to buffer for the memory run")
    ap.add_argument("--pin", type=int, default=None, help="pin the process to this CPU")
    ap.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--write", action="store_true", help="replace the tail_sampling section of BENCHMARKS.md")
    args = ap.parse_args()
    tune_process()
    pinned = pin(args.pin)
    load = os.getloadavg()[0]
    if args.memory_only:
        print(json.dumps(asyncio.run(memory(args.spans))))
        return
    runs = sorted(
        (asyncio.run(throughput(args.requests)) for _ in range(args.runs)), key=lambda r: r["spans_per_cpu_s"]
    )
    t = runs[len(runs) // 2]  # the median run
    spread = f"{runs[0]['spans_per_cpu_s']:,.0f}–{runs[-1]['spans_per_cpu_s']:,.0f}"
    out = subprocess.run(
        [sys.executable, __file__, "--memory-only", "--spans", str(args.spans)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    table = "\n".join(
        [
            "| measurement | result | target |",
            "|---|---|---|",
            f"| spans per CPU-second ({t['pipeline']}), median of {len(runs)} runs ({spread}) "
            f"| **{t['spans_per_cpu_s']:,.0f}** | ≥ 300,000 |",
            f"| RSS per buffered span ({m['buffered_spans']:,} spans in {m['traces']:,} traces) "
            f"| **{m['rss_per_span']:.0f} B** | ≤ 600 B |",
        ]
    )
    detail = (
        f"Throughput run: {t['spans_in']:,} spans in, {t['spans_out']:,} kept (errors + slow + 10%), "
        f"{t['cpu_s']:.2f} s CPU, {t['wall_s']:.2f} s wall, serialized spans ~{t['avg_span_bytes']:.0f} B, "
        f"{pinned}, load average {load:.2f} when started (other processes on the machine make single "
        f"runs vary by up to ~2x, hence the median). Memory run: RSS grew {m['rss_growth_mb']:.0f} MiB, {m['released']} spans released."
    )
    print(table)
    print()
    print(detail)
    if args.write:
        from _common import machine, write_section

        write_section(
            "tail_sampling",
            "`.venv/bin/python bench/tail_sampling.py --write`; the seed pipeline in one process "
            f"(no gRPC), {SCAN_NOTE}.\n\n" + table + "\n\n" + detail + f"\n\nMachine: {machine()}.",
        )


if __name__ == "__main__":
    main()
