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

from typing import NamedTuple

from ..store.model import SpanRecord
from .cobalt import cluster_of

__all__ = ["Segment", "parent_indexes", "critical_path", "cluster_breakdown", "QUEUE_WAIT_KEY"]

QUEUE_WAIT_KEY = "messaging.cobalt.queue_wait_ms"


class Segment(NamedTuple):
    """Span `index` (into the list given) is on the critical path from `start` to `end` (ns).
    `waiting` marks time after the span itself ended while its asynchronous children had not yet
    started (a message sitting in the broker queue), which belongs to no service."""

    index: int
    start: int
    end: int
    waiting: bool = False


def parent_indexes(spans: list[SpanRecord]) -> list[int]:
    """Index of each span's parent in `spans`; -1 for roots and for orphans whose parent never
    arrived.  Each span has one parent, so a walk down from the roots visits each span once and
    never enters a cycle of bad parent ids (those spans are unreachable from any root)."""
    index = {s.span_id: i for i, s in enumerate(spans)}
    get = index.get
    out = [get(s.parent_span_id, -1) if s.parent_span_id else -1 for s in spans]
    for i, p in enumerate(out):
        if p == i:
            out[i] = -1
    return out


def _children(parents: list[int]) -> tuple[dict[int, list[int]], list[int]]:
    """Children by parent index (leaves absent, to keep allocations down on 100k spans)."""
    children: dict[int, list[int]] = {}
    roots = []
    for i, p in enumerate(parents):
        if p < 0:
            roots.append(i)
        else:
            kids = children.get(p)
            if kids is None:
                children[p] = [i]
            else:
                kids.append(i)
    return children, roots


def _subtree_ends(ends: list[int], children: dict[int, list[int]], roots: list[int]) -> list[int]:
    """Latest end in each span's subtree: a producer's work goes on in its consumers after the
    producer span closed, so the path follows them instead of clipping them to the parent."""
    ends = list(ends)
    order, stack = [], list(roots)
    while stack:
        i = stack.pop()
        order.append(i)
        kids = children.get(i)
        if kids:
            stack.extend(kids)
    for i in reversed(order):
        kids = children.get(i)
        if kids:
            latest = max(map(ends.__getitem__, kids))
            if latest > ends[i]:
                ends[i] = latest
    return ends


def critical_path(spans: list[SpanRecord], parents: list[int] | None = None) -> list[Segment]:
    if not spans:
        return []
    children, roots = _children(parent_indexes(spans) if parents is None else parents)
    starts = [s.timestamp for s in spans]
    own_ends = [s.timestamp + s.duration for s in spans]
    ends = _subtree_ends(own_ends, children, roots or [0])
    # a trace with lost context has several roots: follow the one that ends last
    root = max(roots or [0], key=lambda i: (ends[i], not spans[i].parent_span_id))
    out: list[Segment] = []

    def own(i: int, lo: int, hi: int) -> None:
        if hi <= lo:
            return
        end = own_ends[i]
        if hi <= end:
            out.append(Segment(i, lo, hi))
        elif lo >= end:
            out.append(Segment(i, lo, hi, True))
        else:
            out.append(Segment(i, lo, end))
            out.append(Segment(i, end, hi, True))

    stack = [(root, starts[root], ends[root])]
    while stack:
        i, lo, hi = stack.pop()
        cursor = hi
        kids = children.get(i)
        if kids:
            for k in sorted(kids, key=ends.__getitem__, reverse=True):
                if cursor <= lo:
                    break
                k_lo, k_hi = max(starts[k], lo), min(ends[k], cursor)
                if k_hi <= k_lo:
                    continue  # entirely after the cursor (overlapped by a later sibling) or empty
                own(i, k_hi, cursor)
                stack.append((k, k_lo, k_hi))
                cursor = k_lo
        own(i, lo, cursor)
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


def cluster_breakdown(
    spans: list[SpanRecord],
    segments: list[Segment],
    parents: list[int] | None = None,
    clusters: list[str] | None = None,
) -> dict:
    """Clusters in the order the request entered them, the time each holds on the critical path
    and its busy time (union of its spans), and the hops between clusters with broker waits.
    `parents` (see `parent_indexes`) and `clusters` (per span) may be passed if known."""
    if clusters is None:
        clusters = [cluster_of(s) for s in spans]
    if parents is None:
        parents = parent_indexes(spans)
    first_seen: dict[str, int] = {}
    intervals: dict[str, list[tuple[int, int]]] = {}
    counts: dict[str, int] = {}
    for c, s in zip(clusters, spans, strict=True):
        t = s.timestamp
        if c not in first_seen or t < first_seen[c]:
            first_seen[c] = t
        intervals.setdefault(c, []).append((t, t + s.duration))
        counts[c] = counts.get(c, 0) + 1
    order = sorted(first_seen, key=first_seen.__getitem__)
    critical: dict[str, int] = dict.fromkeys(order, 0)
    waiting = 0
    for seg in segments:
        if seg.waiting:
            waiting += seg.end - seg.start
        else:
            critical[clusters[seg.index]] += seg.end - seg.start

    hops: dict[tuple[str, str], dict] = {}
    first_hop: dict[tuple[str, str], int] = {}
    broker_total = 0
    for i, s in enumerate(spans):
        wait = _queue_wait_ns(s) if QUEUE_WAIT_KEY in s.attributes else 0
        broker_total += wait
        p = parents[i]
        if p < 0 or clusters[p] == clusters[i]:
            continue
        key = (clusters[p], clusters[i])
        hop = hops.get(key)
        if hop is None:
            hop = hops[key] = {
                "from": key[0],
                "to": key[1],
                "calls": 0,
                "brokerNanos": 0,
                "firstSpanID": s.span_id,
            }
            first_hop[key] = s.timestamp
        elif s.timestamp < first_hop[key]:
            first_hop[key] = s.timestamp
            hop["firstSpanID"] = s.span_id
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
        "hops": [hops[k] for k in sorted(hops, key=first_hop.__getitem__)],
        "brokerNanos": broker_total,
        "waitingNanos": waiting,
    }
