"""The UI's own endpoints and asset serving, over real HTTP (no browser)."""

from __future__ import annotations

import re

import httpx
import pytest


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=10) as c:
        yield c


def test_spa_pages_serve_index_with_current_asset_version(client):
    for path in ("/", "/search", "/services", "/trace/abc", "/request/req-x"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-cache"
    # a trace page asks the browser to fetch the trace early; other ids are not echoed back
    assert (
        '<link rel="preload" as="fetch" crossorigin href="/api/cobalt/traces/abcd">'
        in client.get("/trace/ABCD").text
    )
    assert 'preload" as="fetch' not in client.get('/trace/"><script>').text
    version = re.search(r"/static/([0-9a-f]{12})/main\.js", client.get("/").text).group(1)
    js = client.get(f"/static/{version}/main.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "immutable" in js.headers["cache-control"]
    again = client.get(f"/static/{version}/main.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    stale = client.get("/static/000000000000/app.css")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    assert client.get(f"/static/{version}/nope.js").status_code == 404
    assert client.get(f"/static/{version}/index.html").status_code == 404
    assert client.get(f"/static/{version}/..%2Fassets.py").status_code == 404


def test_compact_trace_has_critical_path_and_cluster_path(client, ui_data):
    tid = ui_data["failing"]
    t = client.get(f"/api/cobalt/traces/{tid}").json()
    n = t["spanCount"]
    assert n == 20 and all(len(col) == n for col in t["spans"].values())
    assert [c["name"] for c in t["clusterPath"]["clusters"]] == ["management", "control-plane", "hypervisor"]
    # the critical path covers the trace end to end without overlap
    segs = sorted(t["criticalPath"], key=lambda s: s[1])
    assert segs[0][1] == 0 and segs[-1][2] == t["durationNanos"]
    assert all(a[2] == b[1] for a, b in zip(segs, segs[1:], strict=False))
    path = t["clusterPath"]
    on_clusters = sum(c["criticalNanos"] for c in path["clusters"])
    assert on_clusters + path["waitingNanos"] == t["durationNanos"]
    assert path["brokerNanos"] == 15_750_000  # 6.5 ms + 9.25 ms reported by the consumers
    hops = {(h["from"], h["to"]): h for h in path["hops"]}
    assert hops[("management", "control-plane")]["brokerNanos"] == 6_500_000
    errors = [i for i, s in enumerate(t["spans"]["status"]) if t["statuses"][s] == "error"]
    assert len(errors) == 2


def test_trace_errors(client):
    assert client.get("/api/cobalt/traces/zz").status_code == 400
    r = client.get("/api/cobalt/traces/" + "1" * 32)
    assert r.status_code == 404 and "trace not found" in r.text


def test_otlp_download(client, ui_data):
    tid = ui_data["evil"]
    r = client.get(f"/api/cobalt/traces/{tid}/otlp")
    assert r.status_code == 200 and f"trace-{tid}.json" in r.headers["content-disposition"]
    spans = [s for rs in r.json()["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert len(spans) == 19 and {s["traceId"] for s in spans} == {tid}


def test_search_lists_clusters_and_counts(client, ui_data):
    r = client.get(
        "/api/cobalt/search", params={"q": '{ resource.service.name = "libvirt" && status = error }'}
    )
    assert r.status_code == 200
    (t,) = r.json()["traces"]
    assert t["traceID"] == ui_data["failing"] and t["errorCount"] == 2 and t["spanCount"] == 20
    assert t["clusters"] == ["control-plane", "hypervisor", "management"]
    assert t["rootServiceName"] == "nova-api" and "libvirt" in t["services"]
    bad = client.get("/api/cobalt/search", params={"q": "{ nope"})
    assert bad.status_code == 400 and "invalid TraceQL" in bad.text
    assert client.get("/api/cobalt/search", params={"limit": "5000"}).status_code == 400


def test_service_graph_groups_services_by_cluster(client):
    g = client.get("/api/cobalt/service-graph").json()
    clusters = {n["service"]: n["clusters"] for n in g["nodes"]}
    assert clusters["nova-api"] == ["management"] and clusters["libvirt"] == ["hypervisor"]
    assert clusters["nova-conductor"] == ["control-plane"]
    edges = {(e["parent"], e["child"]) for e in g["edges"]}
    assert ("nova-conductor", "nova-compute") in edges


def test_missing_ui_files_leave_the_apis_working(monkeypatch):
    import asyncio

    from cobalt_trace.query.app import create_app
    from cobalt_trace.query.ui import assets
    from cobalt_trace.store import MemoryStore

    def no_files(self):
        raise FileNotFoundError("static")

    monkeypatch.setattr(assets.UIAssets, "__init__", no_files)
    app = create_app(MemoryStore())

    async def get(path):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui") as c:
            return await c.get(path)

    page = asyncio.run(get("/trace/abc"))
    assert page.status_code == 503 and "not installed" in page.text
    assert asyncio.run(get("/api/echo")).text == "echo"
