"""Replays the requests Grafana's Tempo and Jaeger data sources (and Jaeger UI) send, over real
HTTP against the query server on the in-memory double, and checks the answers' shapes."""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import quote

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from cobalt_trace.query import QueryServer
from cobalt_trace.store import MemoryStore
from store.helpers import NOW, make_records

PB = {"Accept": "application/protobuf"}
START, END = str(NOW // 10**9 - 3600), str(NOW // 10**9 + 60)


@pytest.fixture(scope="module")
def records():
    return make_records(traces=40)


@pytest.fixture(scope="module")
def client(records):
    store = MemoryStore()
    store.write_spans(records)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = QueryServer(store, "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as c:
            yield c
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if not b & 0x80:
            return value, pos
        shift += 7


# -- Tempo ---------------------------------------------------------------------------------------
def test_echo_ready_buildinfo(client):
    assert client.get("/api/echo").text == "echo"
    assert client.get("/ready").status_code == 200
    info = client.get("/api/status/buildinfo").json()
    assert info["version"].startswith("2.") and "revision" in info


def test_tempo_v2_trace_protobuf_is_trace_by_id_response(client, records):
    tid = records[0].trace_id
    r = client.get(f"/api/v2/traces/{tid}", params={"start": START, "end": END}, headers=PB)
    assert r.status_code == 200 and r.headers["content-type"] == "application/protobuf"
    body = r.content
    assert body[0] == 0x0A  # field 1 (trace), length-delimited
    length, pos = _varint(body, 1)
    assert pos + length == len(body)
    trace = TracesData.FromString(body[pos:])
    spans = [s for rs in trace.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert {s.trace_id.hex() for s in spans} == {tid}
    assert len(spans) == sum(r.trace_id == tid for r in records)
    services = {
        kv.value.string_value
        for rs in trace.resource_spans
        for kv in rs.resource.attributes
        if kv.key == "service.name"
    }
    assert "nova-api" in services or services


def test_tempo_v1_fallback_protobuf_is_bare_trace(client, records):
    tid = records[0].trace_id
    r = client.get(f"/api/traces/{tid}", headers=PB)
    assert r.status_code == 200
    trace = TracesData.FromString(r.content)
    assert trace.resource_spans and trace.resource_spans[0].scope_spans[0].spans[0].trace_id.hex() == tid


def test_tempo_trace_json_and_not_found(client, records):
    tid = records[0].trace_id
    v2 = client.get(f"/api/v2/traces/{tid}").json()
    assert v2["trace"]["resourceSpans"]
    v1 = client.get(f"/api/traces/{tid}", params={"format": "tempo"}).json()
    assert v1["batches"]
    missing = "ab" * 16
    assert client.get(f"/api/v2/traces/{missing}", headers=PB).status_code == 404
    assert client.get(f"/api/traces/{missing}", headers=PB).status_code == 404
    bad = client.get("/api/v2/traces/not-hex", headers=PB)
    assert bad.status_code == 400 and "trace id" in bad.text


def test_tempo_traceql_search(client):
    q = '{resource.service.name="nova-api" && duration > 1ms}'
    r = client.get("/api/search", params={"q": q, "limit": "20", "spss": "3", "start": START, "end": END})
    assert r.status_code == 200
    data = r.json()
    assert data["traces"] and "metrics" in data
    t = data["traces"][0]
    assert set(t) >= {
        "traceID",
        "rootServiceName",
        "rootTraceName",
        "startTimeUnixNano",
        "durationMs",
        "spanSets",
    }
    assert isinstance(t["startTimeUnixNano"], str) and isinstance(t["durationMs"], int)
    spanset = t["spanSets"][0]
    assert 1 <= len(spanset["spans"]) <= 3 and spanset["matched"] >= len(spanset["spans"])
    assert set(spanset["spans"][0]) >= {"spanID", "startTimeUnixNano", "durationNanos"}
    starts = [int(x["startTimeUnixNano"]) for x in data["traces"]]
    assert starts == sorted(starts, reverse=True)


def test_tempo_tag_search_and_bad_queries_keep_the_server_serving(client):
    r = client.get(
        "/api/search", params={"tags": 'service.name="nova-api"', "minDuration": "1ms", "limit": "5"}
    )
    assert r.status_code == 200 and 0 < len(r.json()["traces"]) <= 5
    bad = client.get("/api/search", params={"q": "{ .a = }"})
    assert bad.status_code == 400 and "col 8" in bad.text
    assert client.get("/api/search", params={"limit": "x"}).status_code == 400
    assert client.get("/api/search", params={"minDuration": "fast"}).status_code == 400
    assert client.get("/api/echo").text == "echo"


def test_tempo_tags_and_values(client):
    v1 = client.get("/api/search/tags").json()
    assert "http.route" in v1["tagNames"] and "service.name" in v1["tagNames"]
    v2 = client.get("/api/v2/search/tags", params={"scope": "resource", "start": START, "end": END}).json()
    assert [s["name"] for s in v2["scopes"]] == ["resource"] and "service.name" in v2["scopes"][0]["tags"]
    every = client.get("/api/v2/search/tags").json()
    assert {s["name"] for s in every["scopes"]} == {"resource", "span", "intrinsic"}
    # Grafana encodes the tag name twice
    path = "/api/v2/search/tag/" + quote(quote("resource.service.name", safe=""), safe="") + "/values"
    values = client.get(path, params={"start": START, "end": END}).json()["tagValues"]
    assert {"type": "string", "value": "nova-api"} in values
    status = client.get("/api/v2/search/tag/status/values").json()["tagValues"]
    assert {"type": "keyword", "value": "error"} in status
    assert "GET" in client.get("/api/search/tag/http.request.method/values").json()["tagValues"]


# -- Jaeger --------------------------------------------------------------------------------------
def test_jaeger_services_and_operations(client):
    services = client.get("/api/services").json()
    assert "nova-api" in services["data"] and services["total"] == len(services["data"])
    ops = client.get("/api/services/nova-api/operations").json()["data"]
    assert "POST /v2.1/servers" in ops
    typed = client.get("/api/operations", params={"service": "nova-api", "spanKind": "server"}).json()["data"]
    assert typed and all(o["spanKind"] == "server" for o in typed)
    err = client.get("/api/operations")
    assert err.status_code == 400 and err.json()["errors"][0]["code"] == 400


def test_jaeger_search_and_trace(client):
    now_us = NOW // 1000
    params = {
        "service": "nova-api",
        "tags": '{"http.request.method":"POST"}',
        "start": str(now_us - 3600 * 10**6),
        "end": str(now_us + 10**6),
        "limit": "20",
        "lookback": "1h",
        "minDuration": "1ms",
    }
    data = client.get("/api/traces", params=params).json()["data"]
    assert data
    trace = data[0]
    assert set(trace) >= {"traceID", "spans", "processes"}
    span0 = trace["spans"][0]
    assert set(span0) >= {
        "traceID",
        "spanID",
        "operationName",
        "references",
        "startTime",
        "duration",
        "tags",
        "processID",
    }
    assert (
        span0["processID"] in trace["processes"] and "serviceName" in trace["processes"][span0["processID"]]
    )
    one = client.get(f"/api/traces/{trace['traceID']}").json()["data"][0]
    assert len(one["spans"]) == len(trace["spans"])
    children = [s for s in one["spans"] if s["references"]]
    assert children and children[0]["references"][0]["refType"] == "CHILD_OF"
    assert client.get("/api/traces", params={"service": "nova-api", "tags": "{bad"}).status_code == 400
    assert client.get("/api/traces/" + "cd" * 16).status_code == 404


def test_jaeger_dependencies(client):
    deps = client.get(
        "/api/dependencies", params={"endTs": str(NOW // 10**6 + 1000), "lookback": "3600000"}
    ).json()
    edges = {(d["parent"], d["child"]): d["callCount"] for d in deps["data"]}
    assert edges and all(c > 0 for c in edges.values())


def test_jaeger_api_v3(client, records):
    assert "nova-api" in client.get("/api/v3/services").json()["services"]
    ops = client.get("/api/v3/operations", params={"service": "nova-api"}).json()["operations"]
    assert ops and set(ops[0]) == {"name", "spanKind"}
    tid = records[0].trace_id
    result = client.get(f"/api/v3/traces/{tid}").json()["result"]
    span0 = result["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span0["traceId"] == tid  # hex, per OTLP/JSON
    found = client.get(
        "/api/v3/traces", params={"query.service_name": "nova-api", "query.num_traces": "3"}
    ).json()["result"]
    ids = {s["traceId"] for rs in found["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]}
    assert 1 <= len(ids) <= 3
    assert client.get("/api/v3/traces/" + "cd" * 16).status_code == 404


# -- cobalt --------------------------------------------------------------------------------------
def test_request_id_stitching_and_red(client, records):
    rid = records[0].attributes["openstack.request_id"]
    data = client.get(f"/api/cobalt/requests/{rid}").json()
    assert data["requestId"] == rid and [t["traceID"] for t in data["traces"]] == [records[0].trace_id]
    starts = [int(s["startTimeUnixNano"]) for s in data["spans"]]
    assert starts == sorted(starts)
    assert client.get("/api/cobalt/requests/req-none").status_code == 404
    red = client.get("/api/cobalt/red", params={"by": "service", "start": START, "end": END}).json()["rows"]
    assert red and all(r["operation"] == "" and r["count"] > 0 for r in red)
    assert client.get("/api/cobalt/red", params={"by": "x"}).status_code == 400
    edges = client.get("/api/cobalt/dependencies").json()["edges"]
    assert edges and {"callCount", "errorCount", "p50Nanos", "p95Nanos", "p99Nanos"} <= set(edges[0])
    assert all(e["p50Nanos"] <= e["p95Nanos"] <= e["p99Nanos"] for e in edges)
    path = client.get(f"/api/cobalt/traces/{records[0].trace_id}/path").json()
    assert set(path) == {"traceID", "clusters", "hops"}


def test_unknown_path_and_method(client):
    assert client.get("/api/nothing").status_code == 404
    assert client.post("/api/echo").status_code == 405
