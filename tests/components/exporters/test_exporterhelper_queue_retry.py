"""ExporterHelper: retry with backoff, server-given delays, timeouts, the sending queue, shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest
from exporter_testkit import make_batch, make_settings, run

from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.errors import PermanentError, RetryableError
from cobalt_trace.pipeline.exporterhelper import ExporterHelper, QueueConfig, RetryConfig

FAST_RETRY = RetryConfig(
    initial_interval=0.001, max_interval=0.005, max_elapsed_time=5, randomization_factor=0
)
NO_QUEUE = QueueConfig(enabled=False)


def metric(settings, name):
    return settings.telemetry.metrics.get(name).value(exporter=str(settings.id))


class Script:
    """A fake single-attempt `send`: raises the scripted errors in turn, then succeeds."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0
        self.sent = []

    async def __call__(self, batch):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(batch)


def test_retryable_errors_are_retried_until_success():
    settings = make_settings()
    send = Script(RetryableError("unavailable"), RetryableError("unavailable"))

    async def go():
        helper = ExporterHelper(settings, send, retry=FAST_RETRY, queue=NO_QUEUE)
        await helper.start()
        await helper.consume(make_batch(4))
        await helper.shutdown()

    run(go())
    assert send.calls == 3
    assert len(send.sent) == 1
    assert metric(settings, "otelcol_exporter_sent_spans") == 4
    assert metric(settings, "otelcol_exporter_send_failed_spans") == 0


def test_permanent_error_is_not_retried():
    settings = make_settings()
    send = Script(PermanentError("invalid argument"))

    async def go():
        helper = ExporterHelper(settings, send, retry=FAST_RETRY, queue=NO_QUEUE)
        await helper.start()
        with pytest.raises(PermanentError, match="invalid argument"):
            await helper.consume(make_batch(2))

    run(go())
    assert send.calls == 1
    assert metric(settings, "otelcol_exporter_send_failed_spans") == 2


def test_retry_after_from_server_is_honoured(monkeypatch):
    settings = make_settings()
    send = Script(RetryableError("throttled", retry_after=0.03))
    slept = []
    helper = ExporterHelper(settings, send, retry=FAST_RETRY, queue=NO_QUEUE)
    real = helper._sleep_unless_stopping

    async def recording(delay):
        slept.append(delay)
        return await real(delay)

    monkeypatch.setattr(helper, "_sleep_unless_stopping", recording)

    async def go():
        await helper.start()
        await helper.consume(make_batch(1))

    run(go())
    assert slept == [pytest.approx(0.03)]


def test_backoff_grows_and_is_capped(monkeypatch):
    settings = make_settings()
    send = Script(*[RetryableError("down")] * 5)
    retry = RetryConfig(
        initial_interval=0.001, multiplier=2, max_interval=0.004, max_elapsed_time=0, randomization_factor=0
    )
    helper = ExporterHelper(settings, send, retry=retry, queue=NO_QUEUE)
    slept = []

    async def recording(delay):
        slept.append(delay)
        return False

    monkeypatch.setattr(helper, "_sleep_unless_stopping", recording)

    async def go():
        await helper.start()
        await helper.consume(make_batch(1))

    run(go())
    assert slept == pytest.approx([0.001, 0.002, 0.004, 0.004, 0.004])


def test_gives_up_after_max_elapsed_time():
    settings = make_settings()

    async def always_down(batch):
        raise RetryableError("connection refused")

    retry = RetryConfig(
        initial_interval=0.002, max_interval=0.002, max_elapsed_time=0.02, randomization_factor=0
    )

    async def go():
        helper = ExporterHelper(settings, always_down, retry=retry, queue=NO_QUEUE)
        await helper.start()
        with pytest.raises(PermanentError, match="no more retries left: connection refused"):
            await helper.consume(make_batch(3))

    run(go())
    assert metric(settings, "otelcol_exporter_send_failed_spans") == 3


def test_each_attempt_has_a_timeout():
    settings = make_settings()

    async def hangs(batch):
        await asyncio.Event().wait()

    async def go():
        helper = ExporterHelper(
            settings, hangs, timeout=0.01, retry=RetryConfig(enabled=False), queue=NO_QUEUE
        )
        await helper.start()
        with pytest.raises(RetryableError, match="timed out"):
            await helper.consume(make_batch(1))

    run(go())


def test_queue_full_is_counted_and_refused():
    settings = make_settings()
    release = asyncio.Event

    async def go():
        gate = release()
        started = asyncio.Event()

        async def blocked(batch):
            started.set()
            await gate.wait()

        queue = QueueConfig(num_consumers=1, queue_size=2)
        helper = ExporterHelper(settings, blocked, retry=FAST_RETRY, queue=queue)
        await helper.start()
        await helper.consume(make_batch(1))  # taken by the only worker, still counted until done
        await started.wait()
        await helper.consume(make_batch(1))
        assert settings.telemetry.metrics.get("otelcol_exporter_queue_size").value(exporter="otlp") == 2
        with pytest.raises(RetryableError, match="sending queue is full"):
            await helper.consume(make_batch(5))
        gate.set()
        await helper.shutdown()

    run(go())
    assert metric(settings, "otelcol_exporter_enqueue_failed_spans") == 5
    assert metric(settings, "otelcol_exporter_sent_spans") == 2
    assert metric(settings, "otelcol_exporter_queue_capacity") == 2


def test_items_sizer_counts_spans():
    settings = make_settings()

    async def go():
        gate = asyncio.Event()

        async def blocked(batch):
            await gate.wait()

        helper = ExporterHelper(
            settings,
            blocked,
            retry=FAST_RETRY,
            queue=QueueConfig(num_consumers=1, queue_size=5, sizer="items"),
        )
        await helper.start()
        await helper.consume(make_batch(3))
        with pytest.raises(RetryableError, match="sending queue is full"):
            await helper.consume(make_batch(3))
        await helper.consume(make_batch(2))
        gate.set()
        await helper.shutdown()

    run(go())
    assert metric(settings, "otelcol_exporter_enqueue_failed_spans") == 3
    assert metric(settings, "otelcol_exporter_sent_spans") == 5


def test_block_on_overflow_waits_for_room():
    settings = make_settings()
    send = Script()

    async def go():
        gate = asyncio.Event()

        async def slow(batch):
            await gate.wait()
            await send(batch)

        queue = QueueConfig(num_consumers=1, queue_size=1, block_on_overflow=True)
        helper = ExporterHelper(settings, slow, retry=FAST_RETRY, queue=queue)
        await helper.start()
        await helper.consume(make_batch(1))
        blocked = asyncio.create_task(helper.consume(make_batch(1)))
        await asyncio.sleep(0.01)
        assert not blocked.done()
        gate.set()
        await blocked
        await helper.shutdown()

    run(go())
    assert len(send.sent) == 2
    assert metric(settings, "otelcol_exporter_enqueue_failed_spans") == 0


def test_wait_for_result_reports_the_send_outcome():
    settings = make_settings()
    send = Script(PermanentError("bad data"))

    async def go():
        helper = ExporterHelper(settings, send, retry=FAST_RETRY, queue=QueueConfig(wait_for_result=True))
        await helper.start()
        with pytest.raises(PermanentError, match="bad data"):
            await helper.consume(make_batch(1))
        await helper.consume(make_batch(1))
        await helper.shutdown()

    run(go())
    assert len(send.sent) == 1


def test_shutdown_drains_the_queue():
    settings = make_settings()
    send = Script()

    async def go():
        async def slowish(batch):
            await asyncio.sleep(0.001)
            await send(batch)

        helper = ExporterHelper(settings, slowish, retry=FAST_RETRY, queue=QueueConfig(num_consumers=2))
        await helper.start()
        for _ in range(20):
            await helper.consume(make_batch(2))
        await helper.shutdown()
        with pytest.raises(RetryableError, match="shut down"):
            await helper.consume(make_batch(1))

    run(go())
    assert len(send.sent) == 20
    assert metric(settings, "otelcol_exporter_sent_spans") == 40


def test_shutdown_gives_up_after_the_drain_time_and_logs_drops(caplog):
    settings = make_settings()

    async def go():
        async def hangs(batch):
            await asyncio.Event().wait()

        helper = ExporterHelper(
            settings,
            hangs,
            timeout=0,
            retry=FAST_RETRY,
            queue=QueueConfig(num_consumers=1),
            drain_timeout=0.02,
        )
        await helper.start()
        for _ in range(3):
            await helper.consume(make_batch(2))
        await helper.shutdown()

    with caplog.at_level(logging.ERROR):
        run(go())
    assert metric(settings, "otelcol_exporter_send_failed_spans") == 6
    assert "dropped 4 queued spans" in caplog.text


def test_shutdown_interrupts_retry_backoff():
    settings = make_settings()

    async def down(batch):
        raise RetryableError("unavailable")

    slow_retry = RetryConfig(initial_interval=60, max_interval=60, randomization_factor=0)

    async def go():
        helper = ExporterHelper(settings, down, retry=slow_retry, queue=QueueConfig(num_consumers=1))
        await helper.start()
        await helper.consume(make_batch(1))
        await asyncio.sleep(0.01)
        await helper.shutdown()

    run(go(), timeout=10)
    assert metric(settings, "otelcol_exporter_send_failed_spans") == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"storage": "file_storage/"}, "sending_queue::storage: name part must be specified after '/'"),
        ({"sizer": "bytes"}, "sending_queue::sizer: 'bytes' is not supported yet"),
        ({"num_consumers": 0}, "sending_queue::num_consumers: must be positive"),
        ({"queue_sizes": 3}, "sending_queue: has invalid keys: queue_sizes"),
    ],
)
def test_queue_config_errors_name_the_key(raw, message):
    _, errors = decode(QueueConfig, raw, "sending_queue")
    assert any(e.startswith(message) for e in errors), errors


def test_retry_config_defaults_and_errors():
    cfg, errors = decode(RetryConfig, {}, "retry_on_failure")
    assert errors == []
    assert (cfg.initial_interval, cfg.max_interval, cfg.max_elapsed_time) == (5, 30, 300)
    assert (cfg.multiplier, cfg.randomization_factor) == (1.5, 0.5)
    _, errors = decode(RetryConfig, {"randomization_factor": 2}, "retry_on_failure")
    assert errors == ["retry_on_failure::randomization_factor: must be between 0 and 1"]
