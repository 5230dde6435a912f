"""DDL of the trace tables: the OpenTelemetry Collector `clickhouseexporter` schema, ordered for
trace lookups, plus the small lookup tables fast queries need.

`otel_traces` has the exporter's column names, types, codecs, skip indexes and partitioning, so
Grafana's ClickHouse data source and the exporter itself work on our tables and we on theirs.
One deliberate difference: the sorting key is `(toStartOfHour(Timestamp), TraceId)` instead of
`(ServiceName, SpanName, toDateTime(Timestamp))`.  With the exporter's key the ~30 spans of a
trace lie in ~30 different granules, so a trace by id read ~30 granules of every column (the
bench measured 329 ms p99 at 300k spans); with ours a trace is 1–2 adjacent granules (~20 ms at
10M) and compresses better (its spans share ids, request id and times).  What the exporter's key
served, per-service scans, goes through `otel_traces_service_ts` instead.

Lookup tables, each filled by a materialised view on `otel_traces` (so inserts by the exporter
itself fill them too):
- `otel_traces_trace_id_ts`: the exporter's trace id → time range table (Grafana uses it);
- `otel_traces_request_ids`: OpenStack request id (and global request id) → trace id;
- `otel_traces_service_ts`: per (service, trace, insert) the first start and the longest span,
  ordered by (ServiceName, Start): TraceQL searches on a service (and a duration) read this.
- `otel_traces_input` (Null engine) + view: what our writer inserts into.  Its columns are plain
  `String` where `otel_traces` has `LowCardinality(String)`: ClickHouse parses LowCardinality in
  RowBinary row by row and ~5x slower, while the view's cast to the table is columnar.

With a `cluster` name every statement gets `ON CLUSTER`, the MergeTree tables become
`Replicated*MergeTree` under a `_local` suffix, and `Distributed` tables with the plain names sit
over them, sharded by `cityHash64(TraceId)` so a trace lives on one shard.  Readers and writers
use the plain names either way.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Schema", "ttl_expression"]

_TRACES_COLUMNS = """\
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1"""

# the columns our inserts carry, in RowBinary order (Arrow inserts must use these names exactly,
# or chDB silently stores defaults)
INSERT_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
)


_M = "Map(String, String)"
# `otel_traces_input`: the insert columns without LowCardinality (see the module doc)
INPUT_TYPES = {
    "Timestamp": "DateTime64(9)",
    "Duration": "UInt64",
    "ResourceAttributes": _M,
    "SpanAttributes": _M,
    "Events.Timestamp": "Array(DateTime64(9))",
    "Events.Name": "Array(String)",
    "Events.Attributes": f"Array({_M})",
    "Links.TraceId": "Array(String)",
    "Links.SpanId": "Array(String)",
    "Links.TraceState": "Array(String)",
    "Links.Attributes": f"Array({_M})",
}

# the request-id keys the lookup table indexes (api.REQUEST_ID_KEYS, kept here to avoid a cycle)
_REQUEST_ID_KEYS = ("openstack.request_id", "openstack.global_request_id")


def ttl_expression(seconds: float, column: str) -> str:
    """`TTL <column> + toInterval<Unit>(n)` in the largest whole unit, as the exporter writes it."""
    s = int(seconds)
    if s <= 0:
        return ""
    for unit, size in (("Day", 86400), ("Hour", 3600), ("Minute", 60)):
        if s % size == 0:
            return f"TTL {column} + toInterval{unit}({s // size})"
    return f"TTL {column} + toIntervalSecond({s})"


def _ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


@dataclass(frozen=True)
class Schema:
    database: str = "default"
    table: str = "otel_traces"
    cluster: str = ""
    retention_s: float = 168 * 3600

    @property
    def traces(self) -> str:
        return f"{_ident(self.database)}.{_ident(self.table)}"

    @property
    def trace_id_ts(self) -> str:
        return f"{_ident(self.database)}.{_ident(self.table + '_trace_id_ts')}"

    @property
    def request_ids(self) -> str:
        return f"{_ident(self.database)}.{_ident(self.table + '_request_ids')}"

    @property
    def service_ts(self) -> str:
        return f"{_ident(self.database)}.{_ident(self.table + '_service_ts')}"

    @property
    def input(self) -> str:
        return f"{_ident(self.database)}.{_ident(self.table + '_input')}"

    def _local(self, name: str) -> str:
        return name + "_local" if self.cluster else name

    def _on_cluster(self) -> str:
        return f" ON CLUSTER {_ident(self.cluster)}" if self.cluster else ""

    def _engine(self, kind: str) -> str:
        return f"Replicated{kind}()" if self.cluster else f"{kind}()"

    def statements(self) -> list[str]:
        """Every statement, in order; all idempotent (`IF NOT EXISTS`)."""
        db, on = _ident(self.database), self._on_cluster()
        traces_local = f"{db}.{_ident(self._local(self.table))}"
        ids = self.table + "_trace_id_ts"
        ids_local = f"{db}.{_ident(self._local(ids))}"
        out = []
        if self.database != "default":
            out.append(f"CREATE DATABASE IF NOT EXISTS {db}{on}")
        ttl = ttl_expression(self.retention_s, "toDateTime(Timestamp)")
        out.append(
            f"CREATE TABLE IF NOT EXISTS {traces_local}{on} (\n{_TRACES_COLUMNS}\n)"
            f" ENGINE = {self._engine('MergeTree')}\n"
            "PARTITION BY toDate(Timestamp)\n"
            "ORDER BY (toStartOfHour(Timestamp), TraceId)\n"
            + (ttl + "\n" if ttl else "")
            # a trace read decompresses the granules and compressed blocks holding its ~30 rows:
            # 512-row granules and 8–64 KiB blocks (default 64 KiB–1 MiB, which in wide parts
            # spans many granules) cut 20 traces from 61 to 27 ms at 2M spans for +3 B/span;
            # compact parts up to 128 MiB: an insert writes one file instead of ~100 (ext4
            # inode work showed in profiles)
            + "SETTINGS index_granularity = 512, ttl_only_drop_parts = 1,"
            " min_compress_block_size = 8192, max_compress_block_size = 65536,"
            " min_bytes_for_wide_part = 134217728, min_rows_for_wide_part = 4000000"
        )
        ttl_ids = ttl_expression(self.retention_s, "toDateTime(Start)")
        out.append(
            f"CREATE TABLE IF NOT EXISTS {ids_local}{on} (\n"
            "    TraceId String CODEC(ZSTD(1)),\n"
            "    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),\n"
            "    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))\n"
            f") ENGINE = {self._engine('AggregatingMergeTree')}\n"
            "PARTITION BY toStartOfWeek(Start)\n"
            "ORDER BY (TraceId)\n"
            + (ttl_ids + "\n" if ttl_ids else "")
            + "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"
        )
        out.append(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{_ident(self._local(ids) + '_mv')}{on}\n"
            f"TO {ids_local}\n"
            "AS SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End\n"
            f"FROM {traces_local}\n"
            "WHERE TraceId != ''\n"
            "GROUP BY TraceId"
        )
        rids = self.table + "_request_ids"
        rids_local = f"{db}.{_ident(self._local(rids))}"
        ttl_start = ttl_expression(self.retention_s, "Start")
        out.append(
            f"CREATE TABLE IF NOT EXISTS {rids_local}{on} (\n"
            "    RequestId String CODEC(ZSTD(1)),\n"
            "    TraceId String CODEC(ZSTD(1)),\n"
            "    Start DateTime CODEC(Delta(4), ZSTD(1))\n"
            f") ENGINE = {self._engine('ReplacingMergeTree')}\n"
            "PARTITION BY toDate(Start)\n"
            "ORDER BY (RequestId, TraceId)\n"
            + (ttl_start + "\n" if ttl_start else "")
            + "SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1"
        )
        keys = ", ".join(f"SpanAttributes['{k}']" for k in _REQUEST_ID_KEYS)
        out.append(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{_ident(self._local(rids) + '_mv')}{on}\n"
            f"TO {rids_local}\n"
            "AS SELECT rid AS RequestId, TraceId, toDateTime(min(Timestamp)) AS Start\n"
            f"FROM {traces_local} ARRAY JOIN [{keys}] AS rid\n"
            "WHERE rid != '' AND TraceId != ''\n"
            "GROUP BY RequestId, TraceId"
        )
        svc = self.table + "_service_ts"
        svc_local = f"{db}.{_ident(self._local(svc))}"
        out.append(
            f"CREATE TABLE IF NOT EXISTS {svc_local}{on} (\n"
            "    ServiceName LowCardinality(String) CODEC(ZSTD(1)),\n"
            "    Start DateTime64(9) CODEC(Delta(8), ZSTD(1)),\n"
            "    MaxDuration UInt64 CODEC(T64, ZSTD(1)),\n"
            "    TraceId String CODEC(ZSTD(1))\n"
            f") ENGINE = {self._engine('MergeTree')}\n"
            "PARTITION BY toDate(Start)\n"
            "ORDER BY (ServiceName, Start)\n"
            + (ttl_start.replace("Start", "toDateTime(Start)") + "\n" if ttl_start else "")
            + "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"
        )
        out.append(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{_ident(self._local(svc) + '_mv')}{on}\n"
            f"TO {svc_local}\n"
            "AS SELECT ServiceName, min(Timestamp) AS Start, max(Duration) AS MaxDuration, TraceId\n"
            f"FROM {traces_local}\n"
            "WHERE TraceId != ''\n"
            "GROUP BY ServiceName, TraceId"
        )
        if self.cluster:
            cluster = "'" + self.cluster.replace("'", "\\'") + "'"
            for name in (self.table, ids, rids, svc):
                local = self._local(name)
                out.append(
                    f"CREATE TABLE IF NOT EXISTS {db}.{_ident(name)}{on} AS {db}.{_ident(local)}\n"
                    f"ENGINE = Distributed({cluster}, '{self.database}', '{local}', cityHash64(TraceId))"
                )
        # the writer's entry point: a Null table whose view casts into the (distributed) table
        columns = ",\n".join(f"    {_ident(c)} {INPUT_TYPES.get(c, 'String')}" for c in INSERT_COLUMNS)
        out.append(f"CREATE TABLE IF NOT EXISTS {self.input}{on} (\n{columns}\n) ENGINE = Null")
        cols = ", ".join(_ident(c) for c in INSERT_COLUMNS)
        out.append(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{_ident(self.table + '_input_mv')}{on}\n"
            f"TO {self.traces}\n"
            f"AS SELECT {cols} FROM {self.input}"
        )
        return out

    def local_name(self, suffix: str = "") -> str:
        """The table that owns the parts of `otel_traces<suffix>`."""
        return self._local(self.table + suffix)

    @property
    def local_traces_name(self) -> str:
        """The table that owns the parts (for `system.parts` and `DROP PARTITION`)."""
        return self._local(self.table)
