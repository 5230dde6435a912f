"""The ClickHouse trace store: embedded chDB (default) or a ClickHouse server/cluster.

Both run the same DDL (`ddl.Schema`) and the same SQL; only the connection differs
(`ChdbBackend`, `ServerBackend`).  chDB rules learnt in the bake-off: inserts go through one
dedicated writer connection, reads through separate reader connections, and only this process
may open the directory.  Inserts are RowBinary (`rowbinary`) into `otel_traces_input`; lookups
are one statement each, on the trace-id sorting key and the lookup tables of `ddl`.
chdb and clickhouse-connect are imported lazily.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Sequence

import orjson

from ..wire.batch import SpanBatch
from .api import REQUEST_ID_KEYS, StoreError
from .ddl import INSERT_COLUMNS, Schema
from .model import (
    DependencyEdge,
    RedRow,
    SearchRequest,
    SpanEvent,
    SpanLink,
    SpanRecord,
    TraceMatch,
    normalize_kind,
    normalize_status,
)
from .rowbinary import encode_batch, encode_records
from .traceql import compile_candidates, evaluate_trace
from .traceql.ast import Attribute, BoolOp, Comparison, CountStage, Filter, Intrinsic

__all__ = ["ChdbBackend", "ServerBackend", "ClickHouseStore", "open_chdb", "open_server"]

_ERROR_STATUSES = "('Error', 'STATUS_CODE_ERROR')"
_SPAN_SELECT = (
    "toUnixTimestamp64Nano(Timestamp), TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind,"
    " ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode,"
    " StatusMessage, arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp), Events.Name,"
    " Events.Attributes, Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes"
)
_INEXACT_FACTOR = 10  # candidates fetched per wanted trace when SQL only narrows the search
_MAX_CANDIDATES = 2000


def _ch_literal(value) -> str:
    """A query-parameter value in ClickHouse text form (chDB takes parameters as text)."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_quote(v) if isinstance(v, str) else str(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ChdbBackend:
    """chDB at `path`: one writer connection, `readers` reader connections."""

    def __init__(self, path: str, readers: int = 2):
        try:
            import chdb
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError(
                "the chdb engine needs the 'store' extra: pip install 'cobalt-trace[store]'"
            ) from exc
        self._writer_lock = threading.Lock()
        try:
            self._writer = chdb.connect(path)
            self._readers: queue.Queue = queue.Queue()
            for _ in range(max(1, readers)):
                self._readers.put(chdb.connect(path))
        except Exception as exc:
            raise StoreError(f"cannot open chDB store at {path}: {exc}") from exc
        self._all = [self._writer, *list(self._readers.queue)]

    def command(self, sql: str) -> None:
        with self._writer_lock:
            try:
                self._writer.query(sql)
            except Exception as exc:
                raise StoreError(f"{exc}") from exc

    def rows(self, sql: str, params: dict | None = None) -> list[list]:
        conn = self._readers.get()
        try:
            res = conn.query(
                sql + " SETTINGS output_format_json_quote_64bit_integers = 0",
                "JSONCompact",
                params={k: _ch_literal(v) for k, v in (params or {}).items()},
            )
        except Exception as exc:
            raise StoreError(str(exc)) from exc
        finally:
            self._readers.put(conn)
        data = res.bytes()
        return orjson.loads(data)["data"] if data else []

    def insert_rowbinary(self, table: str, rows: bytes) -> None:
        """Insert RowBinary rows of the `INSERT_COLUMNS` into `table` (one part)."""
        with self._writer_lock:
            try:
                ins = self._writer.send_insert(f"INSERT INTO {table}", "RowBinary")
                try:
                    ins.append(rows)
                    ins.finish()
                except BaseException:
                    ins.cancel()
                    raise
            except Exception as exc:
                raise StoreError(f"insert failed: {exc}") from exc

    def close(self) -> None:
        for conn in self._all:
            try:
                conn.close()
            except Exception:  # already closed
                pass
        self._all = []


class ServerBackend:
    """A ClickHouse server or cluster through `clickhouse-connect` (HTTP interface)."""

    def __init__(self, dsn: str, **kwargs):
        try:
            import clickhouse_connect
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError(
                "the clickhouse engine needs clickhouse-connect: pip install clickhouse-connect"
            ) from exc
        try:
            self._client = clickhouse_connect.get_client(dsn=dsn, **kwargs)
        except Exception as exc:
            raise StoreError(f"cannot connect to ClickHouse at {dsn}: {exc}") from exc
        self._lock = threading.Lock()  # one HTTP session; clickhouse-connect clients are not thread safe

    def command(self, sql: str) -> None:
        with self._lock:
            try:
                self._client.command(sql)
            except Exception as exc:
                raise StoreError(str(exc)) from exc

    def rows(self, sql: str, params: dict | None = None) -> list[list]:
        with self._lock:
            try:
                return [list(r) for r in self._client.query(sql, parameters=params or {}).result_rows]
            except Exception as exc:
                raise StoreError(str(exc)) from exc

    def insert_rowbinary(self, table: str, rows: bytes) -> None:
        with self._lock:
            try:
                self._client.raw_insert(table, list(INSERT_COLUMNS), rows, fmt="RowBinary")
            except Exception as exc:
                raise StoreError(f"insert failed: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def _ns_bounds(column: str, start_ns: int | None, end_ns: int | None, params: dict) -> str:
    parts = []
    if start_ns is not None:
        params["t_start"] = int(start_ns)
        parts.append(f"{column} >= fromUnixTimestamp64Nano({{t_start:Int64}})")
    if end_ns is not None:
        params["t_end"] = int(end_ns)
        parts.append(f"{column} <= fromUnixTimestamp64Nano({{t_end:Int64}})")
    return " AND ".join(parts)


def _and(*conds: str) -> str:
    conds = [c for c in conds if c]
    return ("WHERE " + " AND ".join(f"({c})" for c in conds)) if conds else ""


def _row_to_span(r: list) -> SpanRecord:
    ev_ts, ev_names, ev_attrs = r[15], r[16], r[17]
    l_tid, l_sid, l_state, l_attrs = r[18], r[19], r[20], r[21]
    return SpanRecord(
        timestamp=int(r[0]),
        trace_id=r[1],
        span_id=r[2],
        parent_span_id=r[3],
        trace_state=r[4],
        name=r[5],
        kind=normalize_kind(r[6]),
        service=r[7],
        resource_attributes=dict(r[8]),
        scope_name=r[9],
        scope_version=r[10],
        attributes=dict(r[11]),
        duration=int(r[12]),
        status_code=normalize_status(r[13]),
        status_message=r[14],
        events=[SpanEvent(int(t), n, dict(a)) for t, n, a in zip(ev_ts, ev_names, ev_attrs, strict=False)],
        links=[
            SpanLink(t, s, st, dict(a)) for t, s, st, a in zip(l_tid, l_sid, l_state, l_attrs, strict=False)
        ],
    )


class ClickHouseStore:
    """`TraceStore` over `otel_traces`; `backend` is a `ChdbBackend` or a `ServerBackend`."""

    def __init__(self, backend, schema: Schema | None = None, max_size_bytes: int = 0, create: bool = True):
        self.backend = backend
        self.schema = schema or Schema()
        self.max_size_bytes = max_size_bytes
        if create:
            for stmt in self.schema.statements():
                backend.command(stmt)

    # -- writer -------------------------------------------------------------------------------
    def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        if spans:
            self.write_rows(encode_records(spans))

    def write_batch(self, batch: SpanBatch) -> int:
        """Store every span of `batch` (encoded natively from its raw bytes); returns the count."""
        rows, count = encode_batch(batch)
        if count:
            self.write_rows(rows)
        return count

    def write_rows(self, rows: bytes) -> None:
        """Insert pre-encoded RowBinary rows (`rowbinary.encode_batch`/`encode_records`)."""
        self.backend.insert_rowbinary(self.schema.input, rows)

    def close(self) -> None:
        self.backend.close()

    # -- retention ----------------------------------------------------------------------------
    def partitions(self) -> list[tuple[str, int, int]]:
        """(partition id, newest row time in s, bytes on disk) per active partition, oldest first."""
        rows = self.backend.rows(
            "SELECT partition_id, toUnixTimestamp(max(max_time)), sum(bytes_on_disk) FROM system.parts"
            " WHERE active AND database = {db:String} AND table = {t:String}"
            " GROUP BY partition_id ORDER BY partition_id",
            {"db": self.schema.database, "t": self.schema.local_traces_name},
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    def enforce_retention(self, now_ns: int | None = None) -> int:
        now_s = (time.time_ns() if now_ns is None else now_ns) / 1e9
        parts = self.partitions()
        total = sum(p[2] for p in parts)
        dropped = 0
        for i, (pid, newest_s, size) in enumerate(parts):
            too_old = self.schema.retention_s > 0 and newest_s < now_s - self.schema.retention_s
            too_big = self.max_size_bytes > 0 and total > self.max_size_bytes and i < len(parts) - 1
            if not (too_old or too_big):
                break
            on = f" ON CLUSTER `{self.schema.cluster}`" if self.schema.cluster else ""
            local = f"`{self.schema.database}`.`{self.schema.local_traces_name}`"
            self.backend.command(f"ALTER TABLE {local}{on} DROP PARTITION ID {_quote(pid)}")
            for suffix in ("_request_ids", "_service_ts"):  # same daily partition ids
                side = f"`{self.schema.database}`.`{self.schema.local_name(suffix)}`"
                self.backend.command(f"ALTER TABLE {side}{on} DROP PARTITION ID {_quote(pid)}")
            total -= size
            dropped += 1
        return dropped

    def size_bytes(self) -> int:
        return sum(p[2] for p in self.partitions())

    # -- reading spans ------------------------------------------------------------------------
    def _load_traces(self, trace_ids: Sequence[str]) -> dict[str, list[SpanRecord]]:
        """All spans of `trace_ids`: one read on the (hour, TraceId) sorting key."""
        if not trace_ids:
            return {}
        return self._spans_where("TraceId IN {ids:Array(String)}", {"ids": list(trace_ids)})

    def _spans_where(self, condition: str, params: dict) -> dict[str, list[SpanRecord]]:
        rows = self.backend.rows(
            f"SELECT {_SPAN_SELECT} FROM {self.schema.traces} WHERE {condition} ORDER BY Timestamp", params
        )
        out: dict[str, list[SpanRecord]] = defaultdict(list)
        for r in rows:
            out[r[1]].append(_row_to_span(r))
        return out

    def get_traces(self, trace_ids: Sequence[str]) -> dict[str, list[SpanRecord]]:
        return dict(self._load_traces([t.lower() for t in trace_ids]))

    def get_trace(self, trace_id: str, start_ns=None, end_ns=None) -> list[SpanRecord]:
        tid = trace_id.lower()
        if start_ns is None and end_ns is None:
            return self._load_traces([tid]).get(tid, [])
        # the window in SQL: the partition and min-max indexes skip the parts outside it
        params: dict = {"tid": tid}
        bounds = _ns_bounds("Timestamp", start_ns, end_ns, params)
        return self._spans_where(f"TraceId = {{tid:String}} AND {bounds}", params).get(tid, [])

    def search(self, request: SearchRequest) -> list[TraceMatch]:
        ids = self._service_candidates(request)
        if ids is None:
            ids = self._candidates(request)
        traces = self._load_traces(ids)
        out = []
        for tid in ids:
            m = evaluate_trace(request.query, traces.get(tid, []), request.spans_per_spanset)
            if m is not None:
                out.append(m)
        out.sort(key=lambda m: m.start, reverse=True)
        return out[: request.limit]

    def _candidates(self, request: SearchRequest) -> list[str]:
        cand = compile_candidates(request.query)
        params = dict(cand.params)
        bounds = _ns_bounds("Timestamp", request.start_ns, request.end_ns, params)
        n = request.limit if cand.exact else min(request.limit * _INEXACT_FACTOR, _MAX_CANDIDATES)
        params["n"] = max(int(n), 1)
        sql = (
            f"SELECT TraceId, min(Timestamp) AS s FROM {self.schema.traces} "
            f"{_and(bounds, cand.where)} GROUP BY TraceId"
            + (f" HAVING {cand.having}" if cand.having not in ("", "1") else "")
            + " ORDER BY s DESC LIMIT {n:UInt32}"
        )
        return [r[0] for r in self.backend.rows(sql, params)]

    def _service_candidates(self, request: SearchRequest) -> list[str] | None:
        """Candidates from `otel_traces_service_ts` when the query is one spanset filter that
        requires `resource.service.name = "X"` (and maybe `duration >(=) d`); None otherwise.
        The table holds per (service, trace) the longest span, so the prefilter is sound; the
        final decision is `evaluate_trace` as always."""
        query = request.query
        if not isinstance(query.spansets, Filter) or query.spansets.expr is None:
            return None
        conjuncts = _conjuncts(query.spansets.expr)
        service, min_duration, other = None, None, False
        for c in conjuncts:
            if (
                isinstance(c, Comparison)
                and isinstance(c.field, Attribute)
                and c.field.scope == "resource"
                and c.field.name == "service.name"
                and c.op == "="
                and c.value.kind == "string"
                and service is None
            ):
                service = str(c.value.value)
            elif (
                isinstance(c, Comparison)
                and isinstance(c.field, Intrinsic)
                and c.field.name == "duration"
                and c.op in (">", ">=")
                and c.value.kind in ("duration", "int", "float")
                and min_duration is None
            ):
                min_duration = (int(c.value.value), c.op)
            else:
                other = True
        if service is None:
            return None
        params: dict = {"svc": service}
        conds = ["ServiceName = {svc:String}", _ns_bounds("Start", request.start_ns, request.end_ns, params)]
        if min_duration is not None:
            params["d"] = min_duration[0]
            conds.append(f"MaxDuration {min_duration[1]} {{d:UInt64}}")
        exact = not other and not any(isinstance(st, CountStage) for st in query.stages)
        n = request.limit if exact else min(request.limit * _INEXACT_FACTOR, _MAX_CANDIDATES)
        params["n"] = max(int(n), 1)
        # newest rows first in sorting-key order (ServiceName fixed, Start descending), so ClickHouse
        # reads only the last granules instead of grouping every trace of the service in the window
        rows = self.backend.rows(
            f"SELECT TraceId, Start FROM {self.schema.service_ts} {_and(*conds)}"
            " ORDER BY Start DESC LIMIT 1 BY TraceId LIMIT {n:UInt32}",
            params,
        )
        return [r[0] for r in rows]

    def find_by_request_id(self, request_id: str, start_ns=None, end_ns=None) -> list[SpanRecord]:
        params: dict = {"rid": request_id}
        cond = "RequestId = {rid:String}"
        if end_ns is not None:
            params["rid_end"] = int(end_ns // 1_000_000_000) + 1
            cond += " AND Start <= {rid_end:UInt32}"
        traces = self._spans_where(
            f"TraceId IN (SELECT TraceId FROM {self.schema.request_ids} WHERE {cond} LIMIT 1000)", params
        )
        lo = start_ns if start_ns is not None else 0
        hi = end_ns if end_ns is not None else 2**63
        spans = [
            s
            for spans in traces.values()
            # the trace qualifies through a span carrying the id inside the window
            if any(
                lo <= s.timestamp <= hi and any(s.attributes.get(k) == request_id for k in REQUEST_ID_KEYS)
                for s in spans
            )
            for s in spans
        ]
        return sorted(spans, key=lambda s: (s.timestamp, s.span_id))

    # -- metadata -----------------------------------------------------------------------------
    def services(self) -> list[str]:
        rows = self.backend.rows(
            f"SELECT DISTINCT ServiceName FROM {self.schema.traces} ORDER BY ServiceName"
        )
        return [r[0] for r in rows]

    def operations(self, service: str | None = None) -> list[tuple[str, str]]:
        params: dict = {}
        where = ""
        if service is not None:
            params["svc"] = service
            where = "WHERE ServiceName = {svc:String}"
        rows = self.backend.rows(
            f"SELECT DISTINCT SpanName, SpanKind FROM {self.schema.traces} {where} ORDER BY SpanName, SpanKind",
            params,
        )
        return sorted({(r[0], normalize_kind(r[1])) for r in rows})

    def tag_names(self, start_ns=None, end_ns=None, limit: int = 1000) -> dict[str, list[str]]:
        params: dict = {"lim": int(limit)}
        where = _and(_ns_bounds("Timestamp", start_ns, end_ns, params))
        rows = self.backend.rows(
            "SELECT arraySort(groupUniqArrayArray(mapKeys(SpanAttributes))),"
            " arraySort(groupUniqArrayArray(mapKeys(ResourceAttributes)))"
            f" FROM (SELECT SpanAttributes, ResourceAttributes FROM {self.schema.traces} {where}"
            " ORDER BY Timestamp DESC LIMIT 100000)",
            params,
        )
        span_keys, res_keys = (rows[0][0], rows[0][1]) if rows else ([], [])
        return {"span": list(span_keys)[:limit], "resource": list(res_keys)[:limit]}

    def tag_values(self, tag, start_ns=None, end_ns=None, limit: int = 1000) -> list[str]:
        params: dict = {"lim": int(limit)}
        bounds = _ns_bounds("Timestamp", start_ns, end_ns, params)
        if isinstance(tag, Intrinsic):
            if tag.name == "status":
                return ["error", "ok", "unset"]
            if tag.name == "kind":
                return ["client", "consumer", "internal", "producer", "server", "unspecified"]
            expr, extra = {
                "name": ("SpanName", ""),
                "statusMessage": ("StatusMessage", "StatusMessage != ''"),
                "rootName": ("SpanName", "ParentSpanId = ''"),
                "rootServiceName": ("ServiceName", "ParentSpanId = ''"),
            }.get(tag.name, (None, ""))
            if expr is None:
                return []
            cond = _and(bounds, extra)
        elif isinstance(tag, Attribute):
            params["k"] = tag.name
            if tag.scope == "span":
                expr, has = "SpanAttributes[{k:String}]", "mapContains(SpanAttributes, {k:String})"
            elif tag.scope == "resource":
                expr, has = "ResourceAttributes[{k:String}]", "mapContains(ResourceAttributes, {k:String})"
            else:
                expr = (
                    "if(mapContains(SpanAttributes, {k:String}), SpanAttributes[{k:String}],"
                    " ResourceAttributes[{k:String}])"
                )
                has = "mapContains(SpanAttributes, {k:String}) OR mapContains(ResourceAttributes, {k:String})"
            cond = _and(bounds, has)
        else:
            raise TypeError(f"not a TraceQL field: {tag!r}")
        rows = self.backend.rows(
            f"SELECT v FROM (SELECT DISTINCT {expr} AS v FROM {self.schema.traces} {cond} LIMIT {{lim:UInt32}})"
            " ORDER BY v",
            params,
        )
        return [r[0] for r in rows]

    def dependencies(self, start_ns=None, end_ns=None) -> list[DependencyEdge]:
        params: dict = {}
        where = _and(_ns_bounds("Timestamp", start_ns, end_ns, params))
        t = self.schema.traces
        rows = self.backend.rows(
            "SELECT p.ServiceName AS parent, c.ServiceName AS child, count(),"
            f" countIf(c.StatusCode IN {_ERROR_STATUSES}),"
            " quantileExact(0.5)(c.Duration), quantileExact(0.99)(c.Duration), quantileExact(0.95)(c.Duration)"
            f" FROM (SELECT TraceId, SpanId, ServiceName FROM {t} {where}) AS p"
            f" INNER JOIN (SELECT TraceId, ParentSpanId, ServiceName, StatusCode, Duration FROM {t} {where}"
            "  ) AS c ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId"
            " WHERE p.ServiceName != c.ServiceName GROUP BY parent, child ORDER BY parent, child",
            params,
        )
        return [
            DependencyEdge(r[0], r[1], int(r[2]), int(r[3]), float(r[4]), float(r[5]), float(r[6]))
            for r in rows
        ]

    def red(self, start_ns=None, end_ns=None, service=None, by_operation=True) -> list[RedRow]:
        params: dict = {}
        conds = [_ns_bounds("Timestamp", start_ns, end_ns, params)]
        if service is not None:
            params["svc"] = service
            conds.append("ServiceName = {svc:String}")
        op = "SpanName" if by_operation else "''"
        rows = self.backend.rows(
            f"SELECT ServiceName, {op} AS op, count(), countIf(StatusCode IN {_ERROR_STATUSES}),"
            " quantilesExact(0.5, 0.9, 0.99)(Duration),"
            " toUnixTimestamp64Nano(min(Timestamp)), toUnixTimestamp64Nano(max(Timestamp))"
            f" FROM {self.schema.traces} {_and(*conds)} GROUP BY ServiceName, op ORDER BY ServiceName, op",
            params,
        )
        out = []
        for r in rows:
            if start_ns is not None and end_ns is not None:
                window = max((end_ns - start_ns) / 1e9, 1e-9)
            else:
                lo = start_ns if start_ns is not None else int(r[5])
                hi = end_ns if end_ns is not None else int(r[6])
                window = max((hi - lo) / 1e9, 1.0)
            q = r[4]
            out.append(
                RedRow(
                    r[0],
                    r[1],
                    int(r[2]),
                    int(r[3]),
                    float(q[0]),
                    float(q[1]),
                    float(q[2]),
                    int(r[2]) / window,
                )
            )
        return out


def _conjuncts(expr) -> list:
    if isinstance(expr, BoolOp) and expr.op == "&&":
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


def open_chdb(
    path: str, retention_s: float = 168 * 3600, max_size_bytes: int = 0, readers: int = 2
) -> ClickHouseStore:
    return ClickHouseStore(ChdbBackend(path, readers), Schema(retention_s=retention_s), max_size_bytes)


def open_server(
    dsn: str,
    cluster: str = "",
    database: str = "default",
    retention_s: float = 168 * 3600,
    max_size_bytes: int = 0,
) -> ClickHouseStore:
    schema = Schema(database=database, cluster=cluster, retention_s=retention_s)
    return ClickHouseStore(ServerBackend(dsn), schema, max_size_bytes)
