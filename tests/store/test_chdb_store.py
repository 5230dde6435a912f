"""The chDB engine against the in-memory double: same answers, persistence, retention, size cap."""

from __future__ import annotations

import pytest

from cobalt_trace.store import MemoryStore, SearchRequest
from cobalt_trace.store.traceql import parse
from cobalt_trace.store.traceql.ast import Attribute, Intrinsic

from .helpers import NOW, make_records, span

chdb = pytest.importorskip("chdb", reason="chdb is not installed (the cobalt-trace[store] extra)")
from cobalt_trace.store.clickhouse import open_chdb  # noqa: E402
from cobalt_trace.store.ddl import Schema  # noqa: E402

DAY = 86_400 * 10**9


@pytest.fixture(scope="module")
def records():
    return make_records(traces=80)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, records):
    path = str(tmp_path_factory.mktemp("chdb"))
    store = open_chdb(path)
    store.write_spans(records[: len(records) // 2])
    store.write_spans(records[len(records) // 2 :])
    store.close()
    return path


@pytest.fixture
def stores(data_dir, records):
    # chDB opens one path per process at a time, so every test opens and closes the store
    # (other modules, or xdist neighbours in this process, open their own paths in between)
    ch = open_chdb(data_dir)
    mem = MemoryStore()
    mem.write_spans(records)
    yield mem, ch
    ch.close()


QUERIES = [
    "{}",
    '{resource.service.name = "nova-api" && duration > 100ms}',
    '{resource.service.name = "neutron-server" && duration >= 1ms && status = error}',
    '{resource.service.name = "nova-api"} | count() > 3',
    "{status = error}",
    "{span.http.response.status_code >= 500}",
    '{.http.request.method = "DELETE"} || {kind = consumer}',
    "{kind = server} >> {kind = consumer}",
    "{kind = producer} > {kind = consumer}",
    '{rootServiceName = "nova-api"} | count() > 10',
    '{name =~ "GET .*"} | select(span.http.route)',
    "{traceDuration > 1s}",
    "{span.messaging.destination.name != nil && duration < 5ms}",
]


@pytest.mark.parametrize("query", QUERIES)
def test_search_matches_the_double(stores, query):
    mem, ch = stores
    req = SearchRequest(parse(query), NOW - 3600 * 10**9, NOW + 10**9, limit=7, spans_per_spanset=4)
    assert ch.search(req) == mem.search(req)


def test_trace_by_id_round_trips_every_field(stores, records):
    mem, ch = stores
    for tid in sorted({r.trace_id for r in records})[:5]:
        got = ch.get_trace(tid)
        assert got == mem.get_trace(tid) and got
    with_events = next(r.trace_id for r in records if r.events)
    assert [s.events for s in ch.get_trace(with_events)] == [s.events for s in mem.get_trace(with_events)]
    assert ch.get_trace("f" * 32) == []


def test_trace_by_id_in_a_window_matches_the_double(stores, records):
    mem, ch = stores
    tid = max({r.trace_id for r in records}, key=lambda t: sum(r.trace_id == t for r in records))
    times = sorted(r.timestamp for r in records if r.trace_id == tid)
    mid = times[len(times) // 2]
    for lo, hi in ((mid, None), (None, mid), (times[0], times[-1]), (times[-1] + 1, None)):
        assert ch.get_trace(tid, lo, hi) == mem.get_trace(tid, lo, hi)
    assert 0 < len(ch.get_trace(tid, mid, None)) < len(times)


def test_request_id_lookup(stores, records):
    mem, ch = stores
    rid = records[0].attributes["openstack.request_id"]
    spans = ch.find_by_request_id(rid)
    assert spans == mem.find_by_request_id(rid)
    assert {s.trace_id for s in spans} == {records[0].trace_id}
    assert ch.find_by_request_id("req-unknown") == []


def test_metadata_matches_the_double(stores):
    mem, ch = stores
    assert ch.services() == mem.services() and "nova-api" in ch.services()
    assert ch.operations("nova-api") == mem.operations("nova-api")
    assert ch.operations() == mem.operations()
    assert ch.tag_names() == mem.tag_names()
    for tag in (Attribute("span", "http.request.method"), Attribute("", "service.name"), Intrinsic("name")):
        assert ch.tag_values(tag) == mem.tag_values(tag)
    assert ch.tag_values(Intrinsic("rootServiceName")) == mem.tag_values(Intrinsic("rootServiceName"))


def test_dependencies_and_red_match_the_double(stores):
    mem, ch = stores
    assert ch.dependencies() == mem.dependencies() and ch.dependencies()
    window = (NOW - 3600 * 10**9, NOW + 10**9)
    got = [(r.service, r.operation, r.count, r.errors, r.p50_ns, r.p99_ns) for r in ch.red(*window)]
    want = [(r.service, r.operation, r.count, r.errors, r.p50_ns, r.p99_ns) for r in mem.red(*window)]
    assert got == want and got


def test_restart_retention_and_size_cap(tmp_path):
    path = str(tmp_path / "data")
    store = open_chdb(path, retention_s=0)  # no TTL in the DDL: the partition drops are ours
    old = [span("b1", "1", timestamp=NOW - 10 * DAY), span("b2", "1", timestamp=NOW - 5 * DAY)]
    new = [span("b3", "1", timestamp=NOW - DAY), span("b4", "1", timestamp=NOW)]
    store.write_spans(old + new)
    store.close()

    store = open_chdb(path, retention_s=0)  # survives a restart
    ids = [t.rjust(32, "0") for t in ("b1", "b2", "b3", "b4")]
    assert [len(store.get_trace(t)) for t in ids] == [1, 1, 1, 1]
    store.schema = Schema(retention_s=3 * 86400)
    assert store.enforce_retention(NOW) == 2
    assert [len(store.get_trace(t)) for t in ids] == [0, 0, 1, 1]
    store.max_size_bytes = 1  # over the cap: evict oldest days, but keep the newest
    assert store.enforce_retention(NOW) == 1
    assert [len(store.get_trace(t)) for t in ids[2:]] == [0, 1]
    store.close()
