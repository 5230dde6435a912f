"""Critical path and cluster breakdown on hand-made traces."""

from __future__ import annotations

from cobalt_trace.query.trace_view import Segment, cluster_breakdown, critical_path
from cobalt_trace.store import SpanRecord

MS = 1_000_000


def sp(sid, parent, start, dur, cluster="a", wait=None) -> SpanRecord:
    return SpanRecord(
        timestamp=start * MS,
        trace_id="1" * 32,
        span_id=sid.rjust(16, "0"),
        parent_span_id=parent.rjust(16, "0") if parent else "",
        name=sid,
        kind="Internal",
        service="svc-" + cluster,
        duration=dur * MS,
        resource_attributes={"cluster": cluster},
        attributes={} if wait is None else {"messaging.cobalt.queue_wait_ms": str(wait)},
    )


def path(spans):
    return [(spans[s.index].name, s.start // MS, s.end // MS, s.waiting) for s in critical_path(spans)]


def test_sequential_children_split_the_parent():
    spans = [sp("r", "", 0, 100), sp("a", "r", 10, 30), sp("b", "r", 50, 40)]
    assert path(spans) == [
        ("r", 0, 10, False),
        ("a", 10, 40, False),
        ("r", 40, 50, False),
        ("b", 50, 90, False),
        ("r", 90, 100, False),
    ]


def test_overlapping_siblings_follow_the_last_to_finish():
    spans = [sp("r", "", 0, 100), sp("long", "r", 5, 80), sp("late", "r", 60, 35)]
    # "late" ends last; before it starts, "long" is what the root waits on
    assert path(spans) == [
        ("r", 0, 5, False),
        ("long", 5, 60, False),
        ("late", 60, 95, False),
        ("r", 95, 100, False),
    ]


def test_async_consumer_outliving_its_producer_is_followed_and_the_gap_is_waiting():
    spans = [
        sp("api", "", 0, 20, "mgmt"),
        sp("send", "api", 5, 2, "mgmt"),
        sp("consume", "send", 12, 50, "hv", wait=4.5),
    ]
    assert path(spans) == [
        ("api", 0, 5, False),
        ("send", 5, 7, False),
        ("send", 7, 12, True),
        ("consume", 12, 62, False),
    ]
    info = cluster_breakdown(spans, critical_path(spans))
    assert [(c["name"], c["criticalNanos"] // MS) for c in info["clusters"]] == [("mgmt", 7), ("hv", 50)]
    assert info["waitingNanos"] == 5 * MS and info["brokerNanos"] == 4_500_000
    assert info["hops"] == [
        {
            "from": "mgmt",
            "to": "hv",
            "calls": 1,
            "brokerNanos": 4_500_000,
            "firstSpanID": "consume".rjust(16, "0"),
        }
    ]


def test_lost_context_picks_the_root_that_ends_last_and_bad_wait_values_are_ignored():
    spans = [sp("r1", "", 0, 10), sp("orphan", "gone", 5, 30, wait="soon")]
    assert path(spans) == [("orphan", 5, 35, False)]
    assert cluster_breakdown(spans, critical_path(spans))["brokerNanos"] == 0
    assert critical_path([]) == []


def test_deep_chain_does_not_recurse():
    spans = [sp("0", "", 0, 100_000)] + [sp(str(i), str(i - 1), i, 100_000 - 2 * i) for i in range(1, 5000)]
    segs = critical_path(spans)
    assert sum(s.end - s.start for s in segs) == 100_000 * MS
    assert isinstance(segs[0], Segment)
