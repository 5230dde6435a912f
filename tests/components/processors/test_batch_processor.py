"""batch processor: size/timeout triggers, splitting, metadata batchers, shutdown, backpressure."""

from __future__ import annotations

import asyncio
import logging

import pytest
from attrproc_testkit import (
    Sink,
    config,
    config_errors,
    decoded,
    request,
    settings,
    simple_batch,
    span,
    span_names,
    to_batch,
)

from cobalt_trace.components.processors.batch.config import BatchConfig
from cobalt_trace.components.processors.batch.factory import FACTORY
from cobalt_trace.components.processors.batch.processor import BatchProcessor, default_buffer_limit
from cobalt_trace.pipeline.client import ClientInfo, set_client
from cobalt_trace.pipeline.errors import PermanentError, RetryableError


def make(raw: dict, sink: Sink, **kw) -> BatchProcessor:
    return BatchProcessor(settings("batch"), config(BatchConfig, raw), sink, **kw)


def metric(proc: BatchProcessor, name: str, **labels) -> float:
    return proc.settings.telemetry.metrics.get(name).value(processor="batch", **labels)


def test_defaults_and_factory():
    cfg = config(BatchConfig, {})
    assert (cfg.send_batch_size, cfg.timeout, cfg.send_batch_max_size) == (8192, 0.2, 0)
    assert (cfg.metadata_keys, cfg.metadata_cardinality_limit) == ([], 1000)
    assert FACTORY.type == "batch" and FACTORY.config_type is BatchConfig
    proc = FACTORY.create(settings("batch"), cfg, Sink())
    assert isinstance(proc, BatchProcessor) and proc.mutates_data is False
    assert default_buffer_limit(cfg) == 100_000
    assert default_buffer_limit(config(BatchConfig, {"send_batch_size": 20000})) == 200_000


def test_config_errors_name_the_key():
    errors = config_errors(BatchConfig, {"send_batch_size": 100, "send_batch_max_size": 50})
    assert errors == [
        "processors::test::send_batch_max_size: must be greater or equal to send_batch_size (50 < 100)"
    ]
    errors = config_errors(BatchConfig, {"metadata_keys": ["X-Tenant", "x-tenant"]})
    assert errors == ["processors::test::metadata_keys: duplicate entry 'x-tenant' (case-insensitive)"]
    assert config_errors(BatchConfig, {"timeout": "-1s"}) == [
        "processors::test::timeout: must be greater or equal to 0"
    ]
    assert config_errors(BatchConfig, {"send_batch_max_size": 8192}) == []
    assert "has invalid keys: sendbatchsize" in config_errors(BatchConfig, {"sendbatchsize": 1})[0]


def test_size_trigger_joins_batches_without_decoding():
    async def run():
        sink = Sink()
        proc = make({"send_batch_size": 10, "timeout": "1h"}, sink)
        inputs = [simple_batch(3, prefix=f"b{i}-") for i in range(4)]
        raw = [b.to_bytes() for b in inputs]
        for b in inputs[:3]:
            await proc.consume(b)
        assert proc.buffered == 9 and sink.batches == []
        await proc.consume(inputs[3])  # 12 >= 10: all 12 go out as one batch (no max size)
        sent = await sink.next()
        assert sent.span_count == 12
        assert sent.to_bytes() == b"".join(raw)  # one join of the serialized requests
        assert sink.names == [f"b{i}-{j}" for i in range(4) for j in range(3)]
        await proc.shutdown()
        assert len(sink.batches) == 1 and proc.buffered == 0
        assert metric(proc, "otelcol_processor_batch_batch_size_trigger_send") == 1
        assert metric(proc, "otelcol_processor_batch_timeout_trigger_send") == 0
        hist = proc.settings.telemetry.metrics.get("otelcol_processor_batch_batch_send_size")
        child = hist.labels(processor="batch")
        assert (child.count, child.sum) == (1, 12)
        m = proc.settings.telemetry.metrics
        assert m.get("otelcol_processor_incoming_items").value(processor="batch", otel_signal="traces") == 12
        assert m.get("otelcol_processor_outgoing_items").value(processor="batch", otel_signal="traces") == 12

    asyncio.run(run())


def test_split_to_max_size_keeps_order_and_remainder():
    async def run():
        sink = Sink()
        proc = make({"send_batch_size": 4, "send_batch_max_size": 5, "timeout": "1h"}, sink)
        # 12 spans over two resources and three scopes
        req = request(
            (
                {"service.name": "a"},
                [("l1", "1", [span(f"a{i}") for i in range(4)]), ("l2", "", [span("a4")])],
            ),
            ({"service.name": "b"}, [("l3", "2", [span(f"b{i}") for i in range(7)])]),
        )
        await proc.consume(to_batch(req))
        first, second = await sink.next(), await sink.next()
        assert (first.span_count, second.span_count) == (5, 5)
        assert proc.buffered == 2  # the remainder (2 < send_batch_size) waits for more or the timer
        await proc.shutdown()
        assert [b.span_count for b in sink.batches] == [5, 5, 2]
        assert sink.names == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(7)]
        # every piece carries the resource and scope of its spans
        services = [
            [(rs.resource.attributes[0].value.string_value, [ss.scope.name for ss in rs.scope_spans])
             for rs in decoded(b).resource_spans]
            for b in sink.batches
        ]  # fmt: skip
        assert services == [[("a", ["l1", "l2"])], [("b", ["l3"])], [("b", ["l3"])]]
        assert metric(proc, "otelcol_processor_batch_batch_size_trigger_send") == 2
        assert metric(proc, "otelcol_processor_batch_timeout_trigger_send") == 1  # the shutdown flush

    asyncio.run(run())


def test_remainder_below_size_waits_then_combines():
    async def run():
        sink = Sink()
        proc = make({"send_batch_size": 4, "send_batch_max_size": 5, "timeout": "1h"}, sink)
        await proc.consume(simple_batch(3, "x"))
        await proc.consume(simple_batch(3, "y"))  # 6 >= 4: send 5, keep 1
        assert (await sink.next()).span_count == 5
        await proc.consume(simple_batch(3, "z"))  # 1 + 3 = 4 >= 4: send 4
        assert (await sink.next()).span_count == 4
        assert proc.buffered == 0
        await proc.shutdown()
        assert sink.names == ["x0", "x1", "x2", "y0", "y1", "y2", "z0", "z1", "z2"]

    asyncio.run(run())


def test_timeout_trigger_sends_a_partial_batch():
    async def run():
        sink = Sink()
        proc = make({"send_batch_size": 1000, "timeout": "20ms"}, sink)
        await proc.consume(simple_batch(2, "p"))
        await proc.consume(simple_batch(1, "q"))
        sent = await sink.next()
        assert sent.span_count == 3
        assert metric(proc, "otelcol_processor_batch_timeout_trigger_send") == 1
        await proc.consume(simple_batch(1, "r"))  # a new batch starts a new timer
        assert (await sink.next()).span_count == 1
        await proc.shutdown()
        assert sink.names == ["p0", "p1", "q0", "r0"]
        assert metric(proc, "otelcol_processor_batch_timeout_trigger_send") == 2

    asyncio.run(run())


@pytest.mark.parametrize(
    "raw", [{"timeout": "0s", "send_batch_size": 4}, {"send_batch_size": 0, "timeout": "1h"}]
)
def test_zero_timeout_or_size_sends_each_batch_immediately(raw):
    async def run():
        sink = Sink()
        proc = make({**raw, "send_batch_max_size": 4}, sink)
        await proc.consume(simple_batch(2, "a"))
        await proc.consume(simple_batch(6, "b"))  # split to the max size: 4 + 2
        got = [(await sink.next()).span_count for _ in range(3)]
        assert got == [2, 4, 2]
        await proc.shutdown()
        assert len(sink.batches) == 3
        assert sink.names == ["a0", "a1"] + [f"b{i}" for i in range(6)]

    asyncio.run(run())


def test_shutdown_flushes_everything_pending():
    async def run():
        sink = Sink()
        proc = make({"send_batch_size": 100, "timeout": "1h"}, sink)
        for i in range(3):
            await proc.consume(simple_batch(2, f"s{i}-"))
        assert sink.batches == []
        await proc.shutdown()
        assert [b.span_count for b in sink.batches] == [6]
        assert proc.buffered == 0
        await proc.consume(simple_batch(1, "late"))  # after shutdown: passed on, not lost
        assert sink.names[-1] == "late0"

    asyncio.run(run())


def test_metadata_keys_make_one_batcher_per_value_combination():
    async def run():
        sink = Sink()
        proc = make(
            {
                "send_batch_size": 100,
                "timeout": "1h",
                "metadata_keys": ["X-Tenant"],
                "metadata_cardinality_limit": 3,
            },
            sink,
        )

        async def consume_as(tenant, n, prefix):
            metadata = {} if tenant is None else {"x-tenant": tenant}
            token = set_client(ClientInfo(address="10.0.0.1:5000", metadata=metadata))
            try:
                await proc.consume(simple_batch(n, prefix))
            finally:
                token.var.reset(token)

        await consume_as(("a",), 2, "a1-")
        await consume_as(("b",), 1, "b1-")
        await consume_as(("a",), 1, "a2-")
        await consume_as(None, 1, "none-")  # unset metadata is its own combination
        assert proc.batcher_count == 3
        gauge = proc.settings.telemetry.metrics.get("otelcol_processor_batch_metadata_cardinality")
        assert gauge.value(processor="batch") == 3
        with pytest.raises(PermanentError, match="too many batcher metadata-value combinations"):
            await consume_as(("c",), 1, "c-")
        await consume_as(("b",), 1, "b2-")  # existing combinations still work
        await proc.shutdown()
        by_tenant = {
            c.get("x-tenant"): span_names(b) for b, c in zip(sink.batches, sink.clients, strict=True)
        }
        assert by_tenant == {("a",): ["a1-0", "a1-1", "a2-0"], ("b",): ["b1-0", "b2-0"], (): ["none-0"]}
        # only the metadata keys travel downstream, as upstream's exportCtx
        assert all(c.address == "" for c in sink.clients)

    asyncio.run(run())


def test_send_errors_are_logged_and_counted_not_raised(caplog):
    async def run():
        sink = Sink(fail=RetryableError("backend down"))
        proc = make({"timeout": "0s"}, sink)
        with caplog.at_level(logging.WARNING):
            await proc.consume(simple_batch(3))
            await sink.next()
            await proc.shutdown()
        assert metric(proc, "otelcol_processor_batch_send_failed_spans") == 3
        assert metric(proc, "otelcol_processor_batch_batch_size_trigger_send") == 0
        assert proc.buffered == 0

    asyncio.run(run())
    assert "Sender failed: backend down" in caplog.text


def test_consume_waits_when_the_buffer_limit_is_reached():
    async def run():
        sink = Sink()
        sink.gate = asyncio.Event()  # the next consumer blocks until opened
        proc = make({"timeout": "0s"}, sink, max_buffered_spans=10)
        await proc.consume(simple_batch(6, "a"))  # being sent (blocked downstream)
        await proc.consume(simple_batch(4, "b"))  # queued behind it: 10 buffered
        assert proc.buffered == 10
        blocked = asyncio.create_task(proc.consume(simple_batch(1, "c")))
        done, _ = await asyncio.wait({blocked}, timeout=0.05)
        assert not done and proc.buffered == 10  # backpressure, nothing added
        sink.gate.set()
        await asyncio.wait_for(blocked, 5)
        await proc.shutdown()
        assert sink.names == [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(4)] + ["c0"]
        assert proc.buffered == 0

    asyncio.run(run())


def test_a_batch_larger_than_the_limit_still_passes_when_nothing_is_buffered():
    async def run():
        sink = Sink()
        proc = make({"timeout": "0s"}, sink, max_buffered_spans=5)
        await asyncio.wait_for(proc.consume(simple_batch(8)), 5)
        await proc.shutdown()
        assert [b.span_count for b in sink.batches] == [8]

    asyncio.run(run())
