"""`cobalt-trace traces get|search` (a client of the query API) and `cobalt-trace query` (a process
serving only the query side of a collector config).

The client reads our own endpoints: `/api/cobalt/traces/{id}` (compact trace with parent indexes
and per-resource clusters), `/api/cobalt/traces/{id}/otlp`, `/api/cobalt/requests/{id}` and
`/api/cobalt/search` (TraceQL with span and error counts).  Exit codes: 0 found, 1 not found or the
API unreachable, 2 a request the API rejected (bad TraceQL, bad id) or bad options.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

import orjson

__all__ = [
    "DEFAULT_API",
    "APIError",
    "QueryClient",
    "SearchOptions",
    "api_base",
    "build_search_query",
    "format_duration",
    "is_trace_id",
    "query_config",
    "render_table",
    "run_query",
    "span_tree",
    "traces_get",
    "traces_search",
]

DEFAULT_API = "http://127.0.0.1:3200"
_TRACE_ID = re.compile(r"[0-9a-fA-F]{1,32}")
_QUERY_SIDE = ("trace_store", "trace_query")


def api_base(arg: str | None) -> str:
    """`--api`, else `COBALT_TRACE_API`, else the `trace_query` default; a bare host:port gets http://."""
    url = (arg or os.environ.get("COBALT_TRACE_API") or DEFAULT_API).strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


# -- HTTP -----------------------------------------------------------------------------------------
class APIError(Exception):
    """A failed call; `exit_code` is what the command returns."""

    def __init__(self, message: str, exit_code: int, status: int | None = None):
        super().__init__(message)
        self.exit_code, self.status = exit_code, status


def _error_text(body: bytes) -> str:
    # Tempo-style endpoints answer plain text, Jaeger's a JSON envelope
    text = body.decode("utf-8", "replace").strip()
    try:
        data = orjson.loads(body)
        return "; ".join(e.get("msg", "") for e in data.get("errors") or []) or text
    except (orjson.JSONDecodeError, AttributeError):
        return text


class QueryClient:
    def __init__(self, base: str, timeout: float = 30.0):
        self.base, self.timeout = base, timeout

    def get(self, path: str, params: dict | None = None) -> bytes:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            message = _error_text(exc.read()) or exc.reason
            code = 2 if exc.code == 400 else 1
            raise APIError(message, code, exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise APIError(
                f"cannot reach the query API at {self.base}: {reason} (is a collector with the "
                "trace_query extension running there? set --api or COBALT_TRACE_API)",
                1,
            ) from None

    def get_json(self, path: str, params: dict | None = None):
        body = self.get(path, params)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise APIError(f"{self.base}{path} did not answer JSON: {body[:200]!r}", 1) from None


# -- formatting -----------------------------------------------------------------------------------
def format_duration(ns: int) -> str:
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f}ms"
    if ns < 60_000_000_000:
        return f"{ns / 1e9:.2f}s"
    return f"{ns / 60e9:.1f}m"


def format_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def render_table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    """Columns padded to their widest cell; indexes in `right` right-aligned (numbers)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


@dataclass(slots=True)
class TreeSpan:
    span_id: str
    parent_id: str
    service: str
    cluster: str
    name: str
    start: int  # ns, absolute or offset; only the order and differences matter
    duration: int
    status: str


def span_tree(spans: list[TreeSpan]) -> list[tuple[int, TreeSpan]]:
    """(depth, span) in depth-first order, siblings by start.  Spans whose parent is missing are
    roots; spans only reachable through a parent cycle come last at depth 0."""
    ids = {s.span_id for s in spans}
    children: dict[str, list[TreeSpan]] = {}
    roots = []
    for s in spans:
        if s.parent_id and s.parent_id in ids and s.parent_id != s.span_id:
            children.setdefault(s.parent_id, []).append(s)
        else:
            roots.append(s)
    out: list[tuple[int, TreeSpan]] = []
    seen: set[int] = set()
    stack = [(0, s) for s in sorted(roots, key=lambda s: s.start, reverse=True)]
    while stack:  # iterative: traces can be deeper than Python's recursion limit
        depth, s = stack.pop()
        if id(s) in seen:
            continue
        seen.add(id(s))
        out.append((depth, s))
        kids = sorted(children.get(s.span_id, ()), key=lambda c: c.start, reverse=True)
        stack += [(depth + 1, c) for c in kids]
    out += [(0, s) for s in spans if id(s) not in seen]
    return out


def _tree_table(spans: list[TreeSpan]) -> str:
    t0 = min(s.start for s in spans)
    rows = [
        [
            "  " * depth + s.service,
            s.cluster or "-",
            s.name,
            "+" + format_duration(s.start - t0) if s.start > t0 else "0",
            format_duration(s.duration),
            s.status,
        ]
        for depth, s in span_tree(spans)
    ]
    return render_table(["SERVICE", "CLUSTER", "OPERATION", "START", "DURATION", "STATUS"], rows, {3, 4})


def _compact_spans(trace: dict) -> list[TreeSpan]:
    """`/api/cobalt/traces/{id}` columns → TreeSpan."""
    cols, resources = trace["spans"], trace["resources"]
    names, statuses = trace["names"], trace["statuses"]
    ids, parents = cols["spanID"], cols["parent"]
    return [
        TreeSpan(
            ids[i],
            ids[parents[i]] if parents[i] >= 0 else "",
            resources[cols["resource"][i]]["service"],
            resources[cols["resource"][i]]["cluster"],
            names[cols["name"][i]],
            cols["start"][i],
            cols["duration"][i],
            statuses[cols["status"][i]],
        )
        for i in range(len(ids))
    ]


# -- traces get -----------------------------------------------------------------------------------
def is_trace_id(text: str) -> bool:
    return bool(_TRACE_ID.fullmatch(text.strip()))


def traces_get(client: QueryClient, ident: str, as_json: bool, out: TextIO) -> int:
    ident = ident.strip()
    if is_trace_id(ident):
        tid = urllib.parse.quote(ident, safe="")
        if as_json:
            out.write(client.get(f"/api/cobalt/traces/{tid}/otlp").decode() + "\n")
            return 0
        trace = client.get_json(f"/api/cobalt/traces/{tid}")
        out.write(
            f"trace {trace['traceID']}  {trace['spanCount']} spans  "
            f"{format_duration(trace['durationNanos'])}  started {format_time(int(trace['startUnixNano']))}\n"
        )
        out.write(_tree_table(_compact_spans(trace)) + "\n")
        return 0
    data = client.get_json(f"/api/cobalt/requests/{urllib.parse.quote(ident, safe='')}")
    if as_json:
        out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    out.write(f"request {data['requestId']}: {len(data['traces'])} trace(s)\n")
    by_trace: dict[str, list[TreeSpan]] = {}
    for s in data["spans"]:
        by_trace.setdefault(s["traceID"], []).append(
            TreeSpan(
                s["spanID"],
                s["parentSpanID"],
                s["service"],
                s["cluster"],
                s["name"],
                int(s["startTimeUnixNano"]),
                s["durationNanos"],
                s["status"],
            )
        )
    for t in data["traces"]:
        path = " → ".join(t.get("clusters") or []) or "-"
        out.write(
            f"\ntrace {t['traceID']}  {t['rootServiceName'] or '?'} {t['rootName'] or ''}  "
            f"{t['spanCount']} spans  {format_duration(t['durationNanos'])}  "
            f"started {format_time(int(t['startTimeUnixNano']))}  clusters: {path}\n"
        )
        spans = by_trace.get(t["traceID"])
        if spans:
            out.write(_tree_table(spans) + "\n")
    return 0


# -- traces search --------------------------------------------------------------------------------
@dataclass
class SearchOptions:
    service: str | None = None
    operation: str | None = None
    query: str | None = None  # TraceQL
    min_duration: str | None = None
    max_duration: str | None = None
    since: str | None = None
    start: str | None = None
    end: str | None = None
    limit: int = 20


class UsageError(ValueError):
    """Bad command-line options (exit 2)."""


def _duration_ns(text: str, option: str) -> int:
    from ..query.params import duration_ns

    try:
        return duration_ns(text)
    except ValueError as exc:
        raise UsageError(f"{option} {text!r}: {exc}") from None


def _time_seconds(text: str, option: str) -> float:
    """Unix seconds, or an ISO 8601 / RFC 3339 time (UTC unless it names a zone)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected Unix seconds or a time such as 2024-01-02T15:04:05Z"
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _quote(value: str) -> str:
    return orjson.dumps(value).decode()  # TraceQL strings are JSON-like double-quoted


def build_search_query(opts: SearchOptions) -> str:
    """Options → one TraceQL query.  The field filters share one spanset (a span of that service
    with that operation, as Jaeger's search); durations bound the trace, as Tempo's search."""
    conds = []
    if opts.service:
        conds.append(f"resource.service.name = {_quote(opts.service)}")
    if opts.operation:
        conds.append(f"name = {_quote(opts.operation)}")
    if opts.min_duration:
        conds.append(f"traceDuration >= {_duration_ns(opts.min_duration, '--min-duration')}ns")
    if opts.max_duration:
        conds.append(f"traceDuration <= {_duration_ns(opts.max_duration, '--max-duration')}ns")
    query = (opts.query or "").strip()
    if not conds:
        return query or "{}"
    spanset = "{ " + " && ".join(conds) + " }"
    return f"{spanset} && ({query})" if query else spanset


def _time_range(opts: SearchOptions, now: float) -> tuple[float | None, float | None]:
    if opts.since and opts.start:
        raise UsageError("--since and --start exclude each other")
    end = _time_seconds(opts.end, "--end") if opts.end else None
    if opts.since:
        return (end or now) - _duration_ns(opts.since, "--since") / 1e9, end or now
    start = _time_seconds(opts.start, "--start") if opts.start else None
    if start is not None and end is not None and end < start:
        raise UsageError("--end is before --start")
    return start, end


def traces_search(client: QueryClient, opts: SearchOptions, as_json: bool, out: TextIO) -> int:
    if opts.limit < 1:
        raise UsageError(f"--limit {opts.limit}: must be at least 1")
    query = build_search_query(opts)
    start, end = _time_range(opts, time.time())
    params = {"q": query, "limit": opts.limit, "start": start, "end": end}
    try:
        data = client.get_json("/api/cobalt/search", params)
    except APIError as exc:
        if exc.status == 400 and query != (opts.query or "").strip():
            # positions refer to the query the options were folded into
            raise APIError(f"{exc} (query sent: {query})", exc.exit_code, exc.status) from None
        raise
    if as_json:
        out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    rows = [
        [
            t["traceID"],
            t["rootServiceName"] or "?",
            t["rootName"] or "?",
            format_time(int(t["startTimeUnixNano"])),
            format_duration(t["durationNanos"]),
            str(t["spanCount"]),
            str(t["errorCount"]),
        ]
        for t in data["traces"]
    ]
    if not rows:
        out.write(f"no traces match {query}\n")
        return 0
    headers = ["TRACE ID", "ROOT SERVICE", "ROOT OPERATION", "START", "DURATION", "SPANS", "ERRORS"]
    out.write(render_table(headers, rows, {4, 5, 6}) + "\n")
    return 0


def run_client(command, *args) -> int:
    """Runs a client command; errors go to stderr as one line and become the exit code."""
    try:
        return command(*args)
    except UsageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except APIError as exc:
        prefix = {400: "the query API rejected the request", 404: "not found"}.get(exc.status, "")
        print(f"Error: {prefix + ': ' if prefix else ''}{exc}", file=sys.stderr)
        return exc.exit_code


# -- query (serve only the query side) --------------------------------------------------------------
def query_config(paths: list[str]):
    """The collector's config, loaded and checked as `collector` does, reduced to the enabled
    `trace_store` and `trace_query` extensions; pipelines become optional (and are not run)."""
    from ..components import builtin_registry
    from ..pipeline.component import Kind
    from ..pipeline.config import ServiceConfig, build_config
    from ..pipeline.confmap import load_config
    from ..pipeline.errors import ConfigError

    registry = builtin_registry()
    config = build_config(load_config(paths), registry, require_pipelines=False)
    keep = [cid for cid in config.service.extensions if cid.type in _QUERY_SIDE]
    queries = [cid for cid in keep if cid.type == "trace_query"]
    if not queries:
        raise ConfigError(
            ["service::extensions: enables no trace_query extension, so there is nothing to serve"]
        )
    kept = {str(cid) for cid in keep}
    errors = []
    for cid in queries:
        storage = config.get(Kind.EXTENSION, cid).config.storage
        if storage not in kept:
            errors.append(
                f'extensions::{cid}::storage: "{storage}" is not an enabled trace_store extension '
                f"(service::extensions has {', '.join(map(str, config.service.extensions)) or 'none'})"
            )
    if errors:
        raise ConfigError(errors)
    # no self-metrics server: this process moves no data, and its port belongs to the collector
    config.service.telemetry.metrics_endpoint = None
    config.service = ServiceConfig(extensions=keep, telemetry=config.service.telemetry)
    return registry, config


async def _serve_query(registry, config) -> int:
    from ..pipeline.service import Service
    from ..pipeline.telemetry import Telemetry

    service = Service(config, registry, Telemetry())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    for cid, ext in service.extensions.items():
        if cid.type == "trace_query":
            print(f"{cid}: serving the query API on http://{ext.server.host}:{ext.port}", flush=True)
    await stop.wait()
    errors = await service.shutdown()
    return 1 if errors else 0


def run_query(paths: list[str]) -> int:
    from ..pipeline.errors import ConfigError
    from ..pipeline.service import StartError

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s\t%(levelname)s\t%(name)s\t%(message)s", stream=sys.stderr
    )
    try:
        registry, config = query_config(paths)
        return asyncio.run(_serve_query(registry, config))
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except StartError as exc:
        print(f"Error: cannot start the query service: {exc}", file=sys.stderr)
        return 1
