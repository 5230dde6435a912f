"""Trace store benchmark: ingest, trace by id, request-id lookup, TraceQL search, RED, disk size.

    .venv/bin/python bench/store.py --spans 1000000 [--path DIR] [--engine chdb|memory]

Spans come from the load generator's OpenStack flows (`cobalt_trace.loadgen.openstack`), spread
over the hour before "now", decoded once up front; ingest times the store's inserts in batches of
`--batch` spans (Arrow build + ArrowStream insert), which is what the exporter does after decoding.
Targets from the issue: ingest ≥ 100k spans/s, trace by id p99 ≤ 20 ms, request-id p99 ≤ 50 ms,
`{resource.service.name="nova-api" && duration > 500ms}` over the last hour p99 ≤ 100 ms,
≤ 70 bytes/span after merges.  Prints a markdown table.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cobalt_trace.loadgen.openstack import TraceFactory, build_request  # noqa: E402
from cobalt_trace.store import MemoryStore, SearchRequest, decode_batch  # noqa: E402
from cobalt_trace.store.traceql import parse  # noqa: E402
from cobalt_trace.wire.batch import SpanBatch  # noqa: E402


def generate(n_spans: int, seed: int, batch: int):
    """Decoded spans in insert-sized chunks, plus the trace ids and request ids made."""
    factory = TraceFactory(seed=seed)
    now = time.time_ns()
    chunks, pending, trace_ids, request_ids = [], [], [], []
    made = 0
    while made < n_spans:
        group = []
        for _ in range(64):
            t = factory.trace(now - random.randint(0, 3600 * 10**9))
            group += t
        records = decode_batch(SpanBatch(data=build_request(group).SerializeToString()))
        for r in records:
            if not r.parent_span_id:
                trace_ids.append(r.trace_id)
                request_ids.append(r.attributes.get("openstack.request_id", ""))
        pending += records
        made += len(records)
        while len(pending) >= batch:
            chunks.append(pending[:batch])
            pending = pending[batch:]
    if pending:
        chunks.append(pending)
    return chunks, trace_ids, request_ids, now


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=300_000, help="spans to ingest (issue target: 10M)")
    ap.add_argument("--batch", type=int, default=8192, help="spans per insert")
    ap.add_argument("--engine", choices=("chdb", "memory"), default="chdb")
    ap.add_argument("--path", help="store directory (default: a temp dir, removed afterwards)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--queries", type=int, default=100, help="lookups per query kind")
    args = ap.parse_args()
    random.seed(args.seed)

    t0 = time.perf_counter()
    chunks, trace_ids, request_ids, now = generate(args.spans, args.seed, args.batch)
    total = sum(len(c) for c in chunks)
    gen_s = time.perf_counter() - t0
    print(f"generated and decoded {total} spans in {gen_s:.1f}s ({total / gen_s:,.0f} spans/s decode incl.)")

    tmp = args.path or tempfile.mkdtemp(prefix="cobalt-store-bench-")
    if args.engine == "chdb":
        from cobalt_trace.store.clickhouse import open_chdb

        store = open_chdb(tmp)
    else:
        store = MemoryStore()

    t0 = time.perf_counter()
    for chunk in chunks:
        store.write_spans(chunk)
    ingest_s = time.perf_counter() - t0
    rows = []
    rows.append(("ingest", f"{total / ingest_s:,.0f} spans/s", "≥ 100k spans/s"))

    if args.engine == "chdb":
        store.backend.command(f"OPTIMIZE TABLE {store.schema.traces} FINAL")
        store.backend.command(f"OPTIMIZE TABLE {store.schema.trace_id_ts} FINAL")
        ids_bytes = store.backend.rows(
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = {t:String}",
            {"t": store.schema.table + "_trace_id_ts"},
        )[0][0]
        size = store.size_bytes() + int(ids_bytes or 0)
        rows.append(("disk after merges", f"{size / total:.1f} B/span", "≤ 70 B/span"))

    n = args.queries
    sample = random.sample(range(len(trace_ids)), min(n, len(trace_ids)))
    p50, p99 = percentiles(timed(lambda i: store.get_trace(trace_ids[sample[i % len(sample)]]), n))
    rows.append(("trace by id p50 / p99", f"{p50:.1f} / {p99:.1f} ms", "p99 ≤ 20 ms"))
    p50, p99 = percentiles(timed(lambda i: store.find_by_request_id(request_ids[sample[i % len(sample)]]), n))
    rows.append(("request-id lookup p50 / p99", f"{p50:.1f} / {p99:.1f} ms", "p99 ≤ 50 ms"))
    query = parse('{resource.service.name="nova-api" && duration > 500ms}')
    req = SearchRequest(query, now - 3600 * 10**9, now, limit=20)
    p50, p99 = percentiles(timed(lambda i: store.search(req), max(n // 5, 5)))
    rows.append(("nova-api && duration > 500ms, 1 h p50 / p99", f"{p50:.1f} / {p99:.1f} ms", "p99 ≤ 100 ms"))
    p50, _ = percentiles(timed(lambda i: store.red(now - 900 * 10**9, now), 5))
    rows.append(("RED per service/op, 15 min (p50)", f"{p50:.1f} ms", ""))
    p50, _ = percentiles(timed(lambda i: store.dependencies(now - 3600 * 10**9, now), 3))
    rows.append(("dependency edges, 1 h (p50)", f"{p50:.1f} ms", ""))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak RSS", f"{rss:,.0f} MiB", ""))
    store.close()
    if not args.path:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{args.engine}, {total:,} spans, {len(trace_ids):,} traces, batch {args.batch}\n")
    print("| measure | result | target |")
    print("|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


if __name__ == "__main__":
    main()
