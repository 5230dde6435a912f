"""Trace analysis for the web UI: critical path and the per-cluster breakdown of one trace.

Pure functions over `SpanRecord`s (no I/O), so the API module and tests share them.

- The critical path is the chain of work that decides the trace's end: from the root, walk back
  from its end; the child that finished last (before the cursor) is on the path, the time not
  covered by such children is the parent's own.  Same idea as Jaeger UI's, done iteratively so
  a 100k-deep chain cannot overflow the stack.
- A cluster's time is its spans' share of the critical path; the rest of the path is waiting
  between a producer's end and its consumer's start (the broker), so the parts add up to the
  trace's duration.  Broker time per hop is what consumers report in
  `messaging.cobalt.queue_wait_ms`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store.model import SpanRecord
from .cobalt import cluster_of

__all__ = ["Segment", "critical_path", "cluster_breakdown", "QUEUE_WAIT_KEY"]

QUEUE_WAIT_KEY = "messaging.cobalt.queue_wait_ms"


@dataclass(slots=True, frozen=True)
class Segment:
    """Span `index` (into the list given) is on the critical path from `start` to `end` (ns).
    `waiting` marks time after the span itself ended while its asynchronous children had not yet
    started (a message sitting in the broker queue), which belongs to no service."""

    index: int
    start: int
    end: int
    waiting: bool = False


def _children(spans: list[SpanRecord]) -> tuple[list[list[int]], list[int]]:
    index = {s.span_id: i for i, s in enumerate(spans)}
    children: list[list[int]] = [[] for _ in spans]
    roots = []
    for i, s in enumerate(spans):
        p = index.get(s.parent_span_id) if s.parent_span_id else None
        if p is None or p == i:
            roots.append(i)  # true roots and orphans whose parent never arrived
        else:
            children[p].append(i)
    return children, roots


def _subtree_ends(spans: list[SpanRecord], children: list[list[int]], roots: list[int]) -> list[int]:
    """Latest end in each span's subtree: a producer's work goes on in its consumers after the
    producer span closed, so the path follows them instead of clipping them to the parent."""
    ends = [s.end for s in spans]
    order, stack, seen = [], list(roots), set(roots)
    while stack:
        i = stack.pop()
        order.append(i)
        for c in children[i]:
            if c not in seen:  # a cycle of parent ids must not loop forever
                seen.add(c)
                stack.append(c)
    for i in reversed(order):
        for c in children[i]:
            if ends[c] > ends[i]:
                ends[i] = ends[c]
    return ends


def _own(out: list[Segment], span: SpanRecord, i: int, lo: int, hi: int) -> None:
    if hi <= lo:
        return
    if hi <= span.end:
        out.append(Segment(i, lo, hi))
    elif lo >= span.end:
        out.append(Segment(i, lo, hi, True))
    else:
        out.append(Segment(i, lo, span.end))
        out.append(Segment(i, span.end, hi, True))


def critical_path(spans: list[SpanRecord]) -> list[Segment]:
    if not spans:
        return []
    children, roots = _children(spans)
    ends = _subtree_ends(spans, children, roots or [0])
    # a trace with lost context has several roots: follow the one that ends last
    root = max(roots or [0], key=lambda i: (ends[i], not spans[i].parent_span_id))
    out: list[Segment] = []
    stack = [(root, spans[root].timestamp, ends[root])]
    seen = {root}
    while stack:
        i, lo, hi = stack.pop()
        cursor = hi
        for k in sorted(children[i], key=lambda c: ends[c], reverse=True):
            if cursor <= lo:
                break
            k_lo, k_hi = max(spans[k].timestamp, lo), min(ends[k], cursor)
            if k_hi <= k_lo or k in seen:
                continue  # entirely after the cursor (overlapped by a later sibling) or empty
            _own(out, spans[i], i, k_hi, cursor)
            seen.add(k)
            stack.append((k, k_lo, k_hi))
            cursor = k_lo
        _own(out, spans[i], i, lo, cursor)
    out.sort(key=lambda seg: seg.start)
    return out


def _queue_wait_ns(span: SpanRecord) -> int:
    raw = span.attributes.get(QUEUE_WAIT_KEY)
    if not raw:
        return 0
    try:
        return max(0, int(float(raw) * 1e6))
    except ValueError:
        return 0  # an instrumentation bug must not break the trace view


def _union_ns(intervals: list[tuple[int, int]]) -> int:
    total, cur_lo, cur_hi = 0, None, None
    for lo, hi in sorted(intervals):
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return total


def cluster_breakdown(spans: list[SpanRecord], segments: list[Segment]) -> dict:
    """Clusters in the order the request entered them, the time each holds on the critical path
    and its busy time (union of its spans), and the hops between clusters with broker waits."""
    clusters = [cluster_of(s) for s in spans]
    order: list[str] = []
    first_seen: dict[str, int] = {}
    for i in sorted(range(len(spans)), key=lambda i: spans[i].timestamp):
        c = clusters[i]
        if c not in first_seen:
            first_seen[c] = spans[i].timestamp
            order.append(c)
    critical: dict[str, int] = dict.fromkeys(order, 0)
    waiting = 0
    for seg in segments:
        if seg.waiting:
            waiting += seg.end - seg.start
        else:
            critical[clusters[seg.index]] += seg.end - seg.start
    intervals: dict[str, list[tuple[int, int]]] = {c: [] for c in order}
    counts: dict[str, int] = dict.fromkeys(order, 0)
    for i, s in enumerate(spans):
        intervals[clusters[i]].append((s.timestamp, s.end))
        counts[clusters[i]] += 1

    by_id = {s.span_id: i for i, s in enumerate(spans)}
    hops: dict[tuple[str, str], dict] = {}
    broker_total = 0
    for i, s in enumerate(spans):
        wait = _queue_wait_ns(s)
        broker_total += wait
        p = by_id.get(s.parent_span_id)
        if p is None or clusters[p] == clusters[i]:
            continue
        hop = hops.setdefault(
            (clusters[p], clusters[i]),
            {"from": clusters[p], "to": clusters[i], "calls": 0, "brokerNanos": 0, "firstSpanID": s.span_id},
        )
        hop["calls"] += 1
        hop["brokerNanos"] += wait
    return {
        "clusters": [
            {
                "name": c,
                "spanCount": counts[c],
                "criticalNanos": critical[c],
                "busyNanos": _union_ns(intervals[c]),
                "firstStartUnixNano": str(first_seen[c]),
            }
            for c in order
        ],
        "hops": sorted(hops.values(), key=lambda h: spans[by_id[h["firstSpanID"]]].timestamp),
        "brokerNanos": broker_total,
        "waitingNanos": waiting,
    }
