"""memory_limiter: refuses with a retryable, delayed error above the soft limit; passes below."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from cobalt_trace.components.processors.memory_limiter.config import MemoryLimiterConfig
from cobalt_trace.components.processors.memory_limiter.limiter import MemoryLimiter
from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.errors import DataRefusedError
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.wire.batch import SpanBatch

MIB = 1 << 20


class Sink:
    mutates_data = False

    def __init__(self):
        self.batches = []

    async def consume(self, batch):
        self.batches.append(batch)


def batch_of(n: int) -> SpanBatch:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    for i in range(n):
        ss.spans.add(trace_id=bytes(15) + bytes([i + 1]), span_id=bytes(7) + b"\1", name="s")
    return SpanBatch.from_bytes(req.SerializeToString())


def make(usage: list[int], **cfg):
    config, errors = decode(
        MemoryLimiterConfig, {"check_interval": "1s", **cfg}, "processors::memory_limiter"
    )
    assert errors == []
    telemetry = Telemetry()
    sink = Sink()
    settings = CreateSettings(ComponentID("memory_limiter"), Kind.PROCESSOR, telemetry)
    return MemoryLimiter(settings, config, sink, measure=lambda: usage[0]), sink, telemetry


def test_refuses_above_soft_limit_and_recovers():
    usage = [100 * MIB]
    limiter, sink, telemetry = make(usage, limit_mib=400, spike_limit_mib=100)
    assert limiter.soft_limit == 300 * MIB

    async def run():
        limiter.check()
        await limiter.consume(batch_of(3))
        usage[0] = 350 * MIB
        limiter.check()
        with pytest.raises(DataRefusedError) as exc:
            await limiter.consume(batch_of(5))
        assert exc.value.retryable and exc.value.retry_after >= 1
        assert "high memory usage" in str(exc.value)
        usage[0] = 200 * MIB
        limiter.check()
        await limiter.consume(batch_of(2))

    asyncio.run(run())
    assert [b.span_count for b in sink.batches] == [3, 2]
    refused = telemetry.metrics.get("otelcol_processor_refused_spans")
    assert refused.value(processor="memory_limiter") == 5


def test_default_spike_is_a_fifth_of_the_limit():
    limiter, _, _ = make([0], limit_mib=1000)
    assert limiter.hard_limit - limiter.soft_limit == 200 * MIB


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"check_interval": "0s", "limit_mib": 10}, "check_interval: must be greater than zero"),
        ({"limit_mib": 0}, "one of limit_mib or limit_percentage must be set"),
        ({"limit_mib": 100, "spike_limit_mib": 100}, "spike_limit_mib: must be smaller than limit_mib"),
        ({"limit_percentage": 50, "spike_limit_percentage": 60}, "must be smaller than limit_percentage"),
    ],
)
def test_config_errors(cfg, message):
    _, errors = decode(MemoryLimiterConfig, {"check_interval": "1s", **cfg}, "processors::memory_limiter")
    assert any(message in e for e in errors), errors
    assert all(e.startswith("processors::memory_limiter") for e in errors)


def test_real_rss_measure_is_positive():
    from cobalt_trace.components.processors.memory_limiter.limiter import process_rss, total_memory

    assert 0 < process_rss() < total_memory()
