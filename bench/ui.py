"""Web UI benchmark: time to interactive of the trace view for big traces, in real Chromium.

    .venv/bin/python bench/ui.py [--sizes 1000,10000,100000] [--runs 3]

Serves synthetic OpenStack traces (tests/ui/synthetic.py: three clusters, padded under
nova-compute) from the in-memory store through the query server, opens `/trace/{id}` in
headless Chromium (Debian's, via Playwright) and reports, per size, the median of `--runs`:
- time to interactive: navigation start → first frame with rows painted (`cobalt:interactive`);
- of which data: navigation start → trace JSON fetched and parsed (`cobalt:trace-loaded`);
- the API alone (server build + transfer, measured from Python) and the payload size;
- scrolling: mean time per jump to a random place plus the frame that paints it;
- collapse all + expand all, and an in-trace search over every attribute.
Target from the issue: 10,000 spans interactive in ≤ 1.5 s; 100,000 spans still scroll.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402

from cobalt_trace.store import MemoryStore  # noqa: E402
from ui.conftest import CHROMIUM, CHROMIUM_ARGS, running_server  # noqa: E402
from ui.synthetic import build_trace  # noqa: E402

SCROLL_JS = """async (jumps) => {
  const el = document.querySelector('.wf-scroll');
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const t0 = performance.now();
  for (let k = 0; k < jumps; k++) {
    el.scrollTop = ((k * 7919) % jumps) / jumps * (el.scrollHeight - el.clientHeight);
    await frame();
  }
  return (performance.now() - t0) / jumps;
}"""
TOGGLE_JS = """async () => {
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const t0 = performance.now();
  document.querySelector('[data-action=collapse]').click();
  await frame();
  document.querySelector('[data-action=expand]').click();
  await frame();
  return performance.now() - t0;
}"""
SEARCH_JS = """async () => {
  const box = document.querySelector('[data-search-box]');
  const count = document.querySelector('.find-count');
  const t0 = performance.now();
  box.value = 'thread.id';
  box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  await new Promise((r) => requestAnimationFrame(() => r()));
  return [performance.now() - t0, count.textContent];
}"""


def mark(page, name: str) -> float:
    return page.evaluate(f"performance.getEntriesByName('{name}')[0].startTime")


def measure(browser, base: str, trace_id: str) -> dict:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/trace/{trace_id}")
    page.wait_for_selector("body[data-ready=trace]")
    out = {"tti": mark(page, "cobalt:interactive"), "data": mark(page, "cobalt:trace-loaded")}
    out["scroll"] = page.evaluate(SCROLL_JS, 30)
    out["toggle"] = page.evaluate(TOGGLE_JS)
    out["search"], _ = page.evaluate(SEARCH_JS)
    out["rows_in_dom"] = page.locator(".wf-row").count()
    context.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    sizes = [int(x) for x in args.sizes.split(",")]
    store = MemoryStore()
    ids = {}
    for n in sizes:
        spans = build_trace(n, seed=n)
        store.write_spans(spans)
        ids[n] = spans[0].trace_id
    rows = []
    with (
        running_server(store) as base,
        sync_playwright() as pw,
        httpx.Client(base_url=base, timeout=120) as http,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for n in sizes:
                api_ms, size = [], 0
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    body = http.get(f"/api/cobalt/traces/{ids[n]}").content
                    api_ms.append((time.perf_counter() - t0) * 1000)
                    size = len(body)
                runs = [measure(browser, base, ids[n]) for _ in range(args.runs)]

                def med(key, runs=runs):
                    return statistics.median(r[key] for r in runs)

                rows.append(
                    f"| {n:,} | {med('tti'):,.0f} | {med('data'):,.0f} | {statistics.median(api_ms):,.0f} "
                    f"| {size / 1e6:.1f} | {med('scroll'):.1f} | {med('toggle'):,.0f} | {med('search'):,.0f} "
                    f"| {runs[0]['rows_in_dom']} |"
                )
        finally:
            browser.close()
    print(f"Chromium headless, 1440×900, median of {args.runs} runs; times in ms.\n")
    print(
        "| spans | time to interactive | of which data loaded | API alone | payload MB "
        "| scroll jump + frame | collapse + expand all | in-trace search | rows in DOM |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    from _common import run_recorded

    run_recorded(main, 'Web UI time to interactive (bench/ui.py)')
