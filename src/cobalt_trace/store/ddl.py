"""DDL of the trace tables: the OpenTelemetry Collector `clickhouseexporter` schema.

`otel_traces` has the exporter's column names, types, codecs, skip indexes, partitioning and
ordering, so Grafana's ClickHouse data source and the exporter itself work on our tables and we
on theirs.  `otel_traces_trace_id_ts` (+ its materialised view) is the exporter's trace-id →
time-range lookup; we use it for trace-by-id and request-id stitching.

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

# the ArrowStream insert names these columns; Arrow names must equal ClickHouse names exactly,
# or chDB silently stores defaults
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
            "PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))\n"
            "ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)\n"
            + (ttl + "\n" if ttl else "")
            + "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"
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
        if self.cluster:
            cluster = "'" + self.cluster.replace("'", "\\'") + "'"
            for name, local in ((self.table, self._local(self.table)), (ids, self._local(ids))):
                out.append(
                    f"CREATE TABLE IF NOT EXISTS {db}.{_ident(name)}{on} AS {db}.{_ident(local)}\n"
                    f"ENGINE = Distributed({cluster}, '{self.database}', '{local}', cityHash64(TraceId))"
                )
        return out

    @property
    def local_traces_name(self) -> str:
        """The table that owns the parts (for `system.parts` and `DROP PARTITION`)."""
        return self._local(self.table)
