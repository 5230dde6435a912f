"""Trace store benchmark: ingest, trace by id, request-id lookup, TraceQL search, RED, disk size.

    .venv/bin/python bench/store.py --spans 10000000 [--path DIR] [--batch 65536]

Spans come from the load generator's OpenStack flows (`cobalt_trace.loadgen.openstack`): a pool
of template requests (8192 spans each, traces spread over the hour before "now") is built once;
every copy gets fresh trace ids (the first 4 bytes) and request ids (the last 8 hex digits), so
10M spans need no 10M-span Python generation.  Ingest is what the exporter does after receiving:
`SpanBatch` bytes → native RowBinary encoding (a producer thread, like the BatchingWriter's
worker threads) → one insert per `--batch` spans on the writer connection; the rate is spans ÷
wall time of that loop.  Queries run twice: right after ingest (background merges still running)
and after `OPTIMIZE … FINAL` (settled); disk size is the active parts after the merge.
Targets from the issue: ingest ≥ 100k spans/s, trace by id p99 ≤ 20 ms, request-id p99 ≤ 50 ms,
`{resource.service.name="nova-api" && duration > 500ms}` over the last hour p99 ≤ 100 ms,
≤ 70 bytes/span after merges.  Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import re
import resource
import shutil
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cobalt_trace.loadgen.openstack import TraceFactory, build_request  # noqa: E402
from cobalt_trace.store import SearchRequest  # noqa: E402
from cobalt_trace.store.rowbinary import NATIVE, encode_batch  # noqa: E402
from cobalt_trace.store.traceql import parse  # noqa: E402
from cobalt_trace.wire.batch import SpanBatch  # noqa: E402

_RID = re.compile(rb"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Pool:
    """Template requests; `next()` stamps a copy number into every trace id and request id."""

    def __init__(self, spans: int, templates: int, seed: int, now_ns: int):
        rng = random.Random(seed)
        factory = TraceFactory(seed=seed)
        self.items = []
        for _ in range(templates):
            prefix = rng.randbytes(8)
            made: list = []
            t = 0
            while len(made) < spans:
                trace_id = b"\0\0\0\0" + prefix + struct.pack(">I", t)
                made += factory.trace(now_ns - rng.randint(0, 3600 * 10**9), trace_id=trace_id)
                t += 1
            data = build_request(made[:spans]).SerializeToString()
            tid_offsets, pos = [], data.find(prefix)
            while pos >= 0:
                tid_offsets.append(pos - 4)
                pos = data.find(prefix, pos + 12)
            rid_offsets = [m.start() + 32 for m in _RID.finditer(data)]
            self.items.append((data, tid_offsets, rid_offsets, min(spans, len(made))))
        self.copies = 0

    def next(self) -> tuple[bytes, int]:
        data, tid_offsets, rid_offsets, count = self.items[self.copies % len(self.items)]
        self.copies += 1
        stamp, hex_stamp = struct.pack(">I", self.copies), b"%08x" % self.copies
        buf = bytearray(data)
        for off in tid_offsets:
            buf[off : off + 4] = stamp
        for off in rid_offsets:
            buf[off : off + 8] = hex_stamp
        return bytes(buf), count


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return s[len(s) // 2], s[min(int(len(s) * 0.99), len(s) - 1)]


def timed(fn, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def ingest(store, pool: Pool, total: int, per_insert: int) -> tuple[int, float]:
    """Encode in a producer thread, insert on this one; (spans, seconds)."""
    q: queue.Queue = queue.Queue(maxsize=2)

    def produce() -> None:
        made = 0
        while made < total:
            rows, n = [], 0
            while n < per_insert and made + n < total:
                data, _ = pool.next()
                encoded, count = encode_batch(SpanBatch(data=data))
                rows.append(encoded)
                n += count
            q.put((b"".join(rows), n))
            made += n
        q.put(None)

    done = 0
    t0 = time.perf_counter()
    threading.Thread(target=produce, daemon=True).start()
    while (item := q.get()) is not None:
        store.write_rows(item[0])
        done += item[1]
    return done, time.perf_counter() - t0


def run_queries(store, trace_ids, request_ids, now, n, label) -> list[tuple[str, str, str]]:
    rows = []
    sample = random.sample(range(len(trace_ids)), min(n, len(trace_ids)))
    p50, p99 = percentiles(timed(lambda i: store.get_trace(trace_ids[sample[i % len(sample)]]), n))
    rows.append((f"trace by id p50 / p99 ({label})", f"{p50:.1f} / {p99:.1f} ms", "p99 ≤ 20 ms"))
    p50, p99 = percentiles(timed(lambda i: store.find_by_request_id(request_ids[sample[i % len(sample)]]), n))
    rows.append((f"request-id lookup p50 / p99 ({label})", f"{p50:.1f} / {p99:.1f} ms", "p99 ≤ 50 ms"))
    query = parse('{resource.service.name="nova-api" && duration > 500ms}')
    req = SearchRequest(query, now - 3600 * 10**9, now, limit=20)
    found = store.search(req)
    p50, p99 = percentiles(timed(lambda i: store.search(req), max(n // 2, 5)))
    rows.append(
        (
            f"nova-api && duration > 500ms, 1 h, {len(found)} traces, p50 / p99 ({label})",
            f"{p50:.1f} / {p99:.1f} ms",
            "p99 ≤ 100 ms",
        )
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=300_000, help="spans to ingest (issue target: 10M)")
    ap.add_argument("--batch", type=int, default=65536, help="spans per insert")
    ap.add_argument("--templates", type=int, default=16, help="distinct 8192-span template requests")
    ap.add_argument("--path", help="store directory (default: a temp dir, removed afterwards)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--queries", type=int, default=200, help="lookups per query kind")
    args = ap.parse_args()
    random.seed(args.seed)
    from cobalt_trace.store.clickhouse import open_chdb

    now = time.time_ns()
    t0 = time.perf_counter()
    pool = Pool(8192, args.templates, args.seed, now)
    print(f"built {args.templates} template requests in {time.perf_counter() - t0:.1f}s", flush=True)

    tmp = args.path or tempfile.mkdtemp(prefix="cobalt-store-bench-")
    store = open_chdb(tmp)
    load = os.getloadavg()[0]
    total, ingest_s = ingest(store, pool, args.spans, args.batch)
    print(f"ingested {total:,} spans in {ingest_s:.1f}s", flush=True)
    rows = [
        (
            "ingest (native RowBinary, " + ("C encoder" if NATIVE else "pure Python") + ")",
            f"{total / ingest_s:,.0f} spans/s",
            "≥ 100k spans/s",
        )
    ]
    picked = store.backend.rows(
        "SELECT TraceId, SpanAttributes['openstack.request_id'] FROM "
        f"{store.schema.traces} WHERE ParentSpanId = '' ORDER BY rand() LIMIT {{n:UInt32}}",
        {"n": args.queries},
    )
    trace_ids, request_ids = [r[0] for r in picked], [r[1] for r in picked]
    rows += run_queries(store, trace_ids, request_ids, now, args.queries, "merges running")

    t0 = time.perf_counter()
    for table in ("traces", "trace_id_ts", "request_ids", "service_ts"):
        store.backend.command(f"OPTIMIZE TABLE {getattr(store.schema, table)} FINAL")
    print(f"OPTIMIZE FINAL took {time.perf_counter() - t0:.1f}s", flush=True)
    sizes = store.backend.rows(
        "SELECT table, sum(bytes_on_disk) FROM system.parts WHERE active AND database = currentDatabase()"
        " AND startsWith(table, {t:String}) GROUP BY table ORDER BY table",
        {"t": store.schema.table},
    )
    size = sum(int(r[1]) for r in sizes)
    detail = ", ".join(
        f"{r[0].removeprefix(store.schema.table) or 'spans'} {int(r[1]) / total:.1f}" for r in sizes
    )
    rows.append(("disk after merges", f"{size / total:.1f} B/span ({detail})", "≤ 70 B/span"))
    rows += run_queries(store, trace_ids, request_ids, now, args.queries, "settled")
    p50, _ = percentiles(timed(lambda i: store.red(now - 900 * 10**9, now), 5))
    rows.append(("RED per service/op, 15 min (p50)", f"{p50:.1f} ms", ""))
    p50, _ = percentiles(timed(lambda i: store.dependencies(now - 3600 * 10**9, now), 3))
    rows.append(("dependency edges, 1 h (p50)", f"{p50:.1f} ms", ""))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak RSS", f"{rss:,.0f} MiB", ""))
    store.close()
    if not args.path:
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\nchdb, {total:,} spans, {args.batch} spans per insert, load average at start {load:.1f}"
        f" on {os.cpu_count()} cores\n"
    )
    print("| measure | result | target |")
    print("|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


if __name__ == "__main__":
    from _common import run_recorded

    run_recorded(main, 'Trace store (bench/store.py)')
