"""`cobalt-trace traces get|search` over real HTTP against a query server on the in-memory store,
and `cobalt-trace query --config` serving a chDB store directory in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from cobalt_testkit import free_port, running_query_server, wait_port
from cobalt_trace.cli.main import main
from cobalt_trace.cli.traces import SearchOptions, build_search_query, span_tree
from cobalt_trace.pipeline.errors import ConfigError
from cobalt_trace.store import MemoryStore, SpanRecord

MS = 1_000_000
T0 = time.time_ns() - 600 * 10**9  # ten minutes ago
BOOT, IMAGE, COMPUTE = "a1" * 16, "b2" * 16, "c3" * 16
REQ_BOOT, REQ_IMAGE = "req-6f1e2d3c-0000-4000-8000-00000000b007", "req-11111111-2222-4333-8444-555555555555"
CLUSTER = {"nova-api": "management", "keystone": "management", "nova-compute": "hypervisor"}


def _span(trace, sid, parent, service, name, start, dur, request_id, status="Unset") -> SpanRecord:
    return SpanRecord(
        timestamp=T0 + start * MS,
        trace_id=trace,
        span_id=sid.rjust(16, "0"),
        parent_span_id=parent.rjust(16, "0") if parent else "",
        name=name,
        kind="Server",
        service=service,
        duration=dur * MS,
        status_code=status,
        resource_attributes={"service.name": service, "cluster": CLUSTER.get(service, "")},
        attributes={"openstack.request_id": request_id},
    )


def _records() -> list[SpanRecord]:
    return [
        # a server boot crossing into the hypervisor cluster, failing there
        _span(BOOT, "1", "", "nova-api", "POST /v2.1/servers", 0, 900, REQ_BOOT),
        _span(BOOT, "2", "1", "keystone", "POST /v3/auth/tokens", 2, 18, REQ_BOOT),
        _span(BOOT, "3", "1", "nova-compute", "build_and_run_instance", 100, 700, REQ_BOOT, "Error"),
        _span(BOOT, "4", "3", "nova-compute", "spawn", 120, 600, REQ_BOOT, "Error"),
        # the same request continued in a second trace (e.g. a periodic task picking it up)
        _span(COMPUTE, "5", "", "nova-compute", "sync_power_state", 2000, 30, REQ_BOOT),
        # a quick, unrelated image list
        _span(IMAGE, "6", "", "glance-api", "GET /v2/images", 5000, 40, REQ_IMAGE),
    ]


@pytest.fixture(scope="module")
def api():
    store = MemoryStore()
    store.write_spans(_records())
    with running_query_server(store) as url:
        yield url


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _table(out: str) -> list[list[str]]:
    """Rows of a table (after its header line) split on runs of 2+ spaces."""
    import re

    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith(("SERVICE", "TRACE ID")))
    return [re.split(r"\s{2,}", line.strip()) for line in lines[head + 1 :] if line.strip()]


# -- traces get -----------------------------------------------------------------------------------
def test_get_trace_as_span_tree(api, capsys):
    code, out, err = run(capsys, "traces", "get", BOOT, "--api", api)
    assert code == 0, err
    assert out.startswith(f"trace {BOOT}  4 spans  900.0ms")
    rows = _table(out)
    # depth-first, siblings by start; indentation shows depth
    assert [r[0] for r in rows] == ["nova-api", "keystone", "nova-compute", "nova-compute"]
    lines = out.splitlines()[2:]
    assert lines[0].startswith("nova-api") and lines[1].startswith("  keystone")
    assert lines[3].startswith("    nova-compute")
    assert rows[2] == ["nova-compute", "hypervisor", "build_and_run_instance", "+100.0ms", "700.0ms", "error"]
    assert rows[0][1:] == ["management", "POST /v2.1/servers", "0", "900.0ms", "unset"]


def test_get_trace_json_is_otlp(api, capsys):
    code, out, _ = run(capsys, "traces", "get", BOOT.upper(), "--api", api, "--json")
    assert code == 0
    data = json.loads(out)
    spans = [s for rs in data["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert len(spans) == 4
    assert {s["traceId"].lower() for s in spans} == {BOOT}


def test_get_request_id_lists_every_trace(api, capsys):
    code, out, err = run(capsys, "traces", "get", REQ_BOOT, "--api", api)
    assert code == 0, err
    assert out.startswith(f"request {REQ_BOOT}: 2 trace(s)")
    # in time order, each with its cluster path and span tree
    assert out.index(f"trace {BOOT}") < out.index(f"trace {COMPUTE}")
    assert "clusters: management → hypervisor" in out
    assert "sync_power_state" in out and "GET /v2/images" not in out

    code, out, _ = run(capsys, "traces", "get", REQ_BOOT, "--api", api, "--json")
    data = json.loads(out)
    assert code == 0 and data["requestId"] == REQ_BOOT
    assert [t["traceID"] for t in data["traces"]] == [BOOT, COMPUTE]


@pytest.mark.parametrize("ident", ["d4" * 16, "req-00000000-0000-4000-8000-000000000000"])
def test_get_not_found_exits_1(api, capsys, ident):
    code, out, err = run(capsys, "traces", "get", ident, "--api", api)
    assert code == 1 and out == ""
    assert err.startswith("Error: not found:") and ident in err


def test_get_rejected_id_exits_2(api, capsys):
    code, _, err = run(capsys, "traces", "get", "0" * 32, "--api", api)
    assert code == 2 and "must not be all zeros" in err


def test_unreachable_api_exits_1_with_clear_message(capsys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code, out, err = run(capsys, "traces", "get", BOOT, "--api", url)
    assert code == 1 and out == ""
    assert f"cannot reach the query API at {url}" in err and "COBALT_TRACE_API" in err


def test_api_from_environment(api, capsys, monkeypatch):
    monkeypatch.setenv("COBALT_TRACE_API", api.removeprefix("http://"))
    code, out, _ = run(capsys, "traces", "get", IMAGE)
    assert code == 0 and "glance-api" in out


# -- traces search --------------------------------------------------------------------------------
def _search(capsys, api, *args) -> tuple[int, list[list[str]], str]:
    code, out, err = run(capsys, "traces", "search", "--api", api, *args)
    return code, (_table(out) if code == 0 and out.startswith("TRACE ID") else []), out + err


def test_search_table_lists_newest_first_with_counts(api, capsys):
    code, rows, text = _search(capsys, api)
    assert code == 0, text
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {BOOT, IMAGE, COMPUTE}
    assert by_id[BOOT][1:3] == ["nova-api", "POST /v2.1/servers"]
    assert by_id[BOOT][4:] == ["900.0ms", "4", "2"]
    assert by_id[IMAGE][4:] == ["40.0ms", "1", "0"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--service", "nova-compute"], {BOOT, COMPUTE}),
        (["--service", "nova-compute", "--operation", "spawn"], {BOOT}),
        (["--min-duration", "500ms"], {BOOT}),
        (["--max-duration", "0.1s"], {IMAGE, COMPUTE}),
        (["-q", "{ status = error }"], {BOOT}),
        (["--service", "nova-compute", "-q", '{ name = "sync_power_state" }'], {COMPUTE}),
        (["--since", "1h"], {BOOT, IMAGE, COMPUTE}),
        (["--start", str(T0 // 10**9 + 3), "--end", str(T0 // 10**9 + 6)], {IMAGE}),
        (["--limit", "1", "--service", "glance-api"], {IMAGE}),
    ],
)
def test_search_filters(api, capsys, args, expected):
    code, rows, text = _search(capsys, api, *args)
    assert code == 0, text
    assert {r[0] for r in rows} == expected


def test_search_nothing_found_and_json(api, capsys):
    code, out, _ = run(capsys, "traces", "search", "--api", api, "--service", "cinder-api")
    assert code == 0 and out.startswith("no traces match")
    code, out, _ = run(capsys, "traces", "search", "--api", api, "--json", "--operation", "spawn")
    data = json.loads(out)
    assert code == 0 and [t["traceID"] for t in data["traces"]] == [BOOT]


def test_bad_traceql_exits_2_with_position(api, capsys):
    code, out, err = run(capsys, "traces", "search", "--api", api, "-q", "{ duration > }")
    assert code == 2 and out == ""
    assert "invalid TraceQL query" in err and "line 1, col 14" in err
    code, _, err = run(capsys, "traces", "search", "--api", api, "--service", "x", "-q", "{ name = }")
    assert code == 2 and 'query sent: { resource.service.name = "x" } && ({ name = })' in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--min-duration", "fast"], "--min-duration 'fast'"),
        (["--since", "1h", "--start", "0"], "--since and --start exclude each other"),
        (["--start", "yesterday"], "--start 'yesterday'"),
        (["--limit", "0"], "--limit 0"),
    ],
)
def test_bad_options_exit_2(api, capsys, args, message):
    code, _, err = run(capsys, "traces", "search", "--api", api, *args)
    assert code == 2 and message in err


def test_search_query_composition():
    assert build_search_query(SearchOptions()) == "{}"
    q = build_search_query(SearchOptions(service='a"b', min_duration="1.5s", query="{ x }"))
    assert q == '{ resource.service.name = "a\\"b" && traceDuration >= 1500000000ns } && ({ x })'


def test_span_tree_survives_parent_cycles():
    from cobalt_trace.cli.traces import TreeSpan

    spans = [TreeSpan("a", "b", "s", "", "x", 0, 1, "unset"), TreeSpan("b", "a", "s", "", "y", 1, 1, "unset")]
    assert sorted(s.span_id for _, s in span_tree(spans)) == ["a", "b"]


# -- query --config -------------------------------------------------------------------------------
def test_query_config_needs_a_trace_query(tmp_path):
    from cobalt_trace.cli.traces import query_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text("extensions:\n  trace_store: {engine: memory}\nservice:\n  extensions: [trace_store]\n")
    with pytest.raises(ConfigError, match="enables no trace_query"):
        query_config([str(cfg)])
    cfg.write_text(
        "extensions:\n  trace_store: {engine: memory}\n  trace_query: {storage: trace_store/other}\n"
        "service:\n  extensions: [trace_store, trace_query]\n"
    )
    with pytest.raises(ConfigError, match='"trace_store/other" is not an enabled trace_store'):
        query_config([str(cfg)])


def test_query_serves_an_existing_chdb_store(tmp_path, capsys):
    pytest.importorskip("chdb", reason="chdb is not installed (the cobalt-trace[store] extra)")
    from cobalt_trace.store.clickhouse import open_chdb

    data = tmp_path / "data"
    store = open_chdb(str(data))
    store.write_spans(_records())
    store.close()  # as a stopped collector leaves it

    port, health_port = free_port(), free_port()
    cfg = tmp_path / "central.yaml"
    # the central collector's own config: receivers and pipelines are checked but not run
    cfg.write_text(
        f"""
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: 127.0.0.1:{free_port()}}}}}}}
exporters:
  trace_store: {{storage: trace_store}}
extensions:
  trace_store: {{path: {data}}}
  trace_query: {{endpoint: 127.0.0.1:{port}}}
  health_check: {{endpoint: 127.0.0.1:{health_port}}}
service:
  extensions: [health_check, trace_store, trace_query]
  pipelines:
    traces: {{receivers: [otlp], exporters: [trace_store]}}
"""
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cobalt_trace.cli.main", "query", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COBALT_TRACE_API": ""},
    )
    try:
        wait_port(port, proc, timeout=60)
        code, out, err = run(capsys, "traces", "get", BOOT, "--api", f"127.0.0.1:{port}")
        assert code == 0, err
        assert "build_and_run_instance" in out and "hypervisor" in out
        code, rows, text = _search(capsys, f"http://127.0.0.1:{port}", "--service", "glance-api")
        assert code == 0 and [r[0] for r in rows] == [IMAGE], text
        with socket.socket() as sock:  # only trace_store and trace_query run
            assert sock.connect_ex(("127.0.0.1", health_port)) != 0
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr.decode()
    assert f"trace_query: serving the query API on http://127.0.0.1:{port}" in stdout.decode()
