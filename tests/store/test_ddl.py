"""The DDL text: the clickhouseexporter's schema, single node and on a cluster."""

from cobalt_trace.store.ddl import Schema, ttl_expression


def test_single_node_schema_is_the_exporters():
    stmts = Schema().statements()
    assert len(stmts) == 9
    traces, ids, mv = stmts[:3]
    assert traces.startswith("CREATE TABLE IF NOT EXISTS `default`.`otel_traces` (")
    for column in (
        "Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1))",
        "SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1))",
        "Duration UInt64 CODEC(T64, ZSTD(1))",
        "Events Nested (",
        "INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1",
        "INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
    ):
        assert column in traces
    assert "ENGINE = MergeTree()" in traces
    assert "PARTITION BY toDate(Timestamp)" in traces
    # our one departure from the exporter's layout: a trace is adjacent rows
    assert "ORDER BY (toStartOfHour(Timestamp), TraceId)" in traces
    assert "TTL toDateTime(Timestamp) + toIntervalDay(7)" in traces
    assert "ENGINE = AggregatingMergeTree()" in ids and "`otel_traces_trace_id_ts`" in ids
    assert "TTL toDateTime(Start) + toIntervalDay(7)" in ids
    assert mv.startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS `default`.`otel_traces_trace_id_ts_mv`")
    assert "ON CLUSTER" not in "".join(stmts)


def test_lookup_tables_and_input_table():
    text = "\n".join(Schema().statements())
    assert "`otel_traces_request_ids`" in text and "ORDER BY (RequestId, TraceId)" in text
    assert (
        "ARRAY JOIN [SpanAttributes['openstack.request_id'], SpanAttributes['openstack.global_request_id']]"
        in text
    )
    assert "`otel_traces_service_ts`" in text and "ORDER BY (ServiceName, Start)" in text
    inp = [s for s in Schema().statements() if "ENGINE = Null" in s][0]
    assert "`SpanName` String" in inp and "LowCardinality" not in inp
    assert "`Events.Attributes` Array(Map(String, String))" in inp
    assert (
        Schema()
        .statements()[-1]
        .startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS `default`.`otel_traces_input_mv`")
    )


def test_cluster_schema_is_replicated_and_distributed():
    stmts = Schema(database="traces", cluster="prod", retention_s=36 * 3600).statements()
    assert stmts[0] == "CREATE DATABASE IF NOT EXISTS `traces` ON CLUSTER `prod`"
    assert all("ON CLUSTER `prod`" in s for s in stmts)
    assert "`traces`.`otel_traces_local` ON CLUSTER `prod`" in stmts[1]
    assert "ENGINE = ReplicatedMergeTree()" in stmts[1]
    assert "ENGINE = ReplicatedAggregatingMergeTree()" in stmts[2]
    assert "TTL toDateTime(Timestamp) + toIntervalHour(36)" in stmts[1]
    assert "FROM `traces`.`otel_traces_local`" in stmts[3]
    dist = [s for s in stmts if "Distributed" in s]
    assert len(dist) == 4
    assert "ENGINE = Distributed('prod', 'traces', 'otel_traces_local', cityHash64(TraceId))" in dist[0]


def test_ttl_units():
    assert ttl_expression(0, "t") == ""
    assert ttl_expression(90, "t") == "TTL t + toIntervalSecond(90)"
    assert ttl_expression(120, "t") == "TTL t + toIntervalMinute(2)"
