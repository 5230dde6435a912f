"""The persistent sending queue through ExporterHelper: stored before consume returns, sent after a
restart, acked on success or permanent failure, kept on shutdown, capacity and metrics."""

from __future__ import annotations

import asyncio
import logging

import pytest
from reliakit import make_batch, make_settings, run, span_ids

from cobalt_trace.components.extensions.file_storage.config import CompactionConfig, FileStorageConfig
from cobalt_trace.components.extensions.file_storage.extension import FileStorage
from cobalt_trace.pipeline.component import ComponentID, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.errors import PermanentError, RetryableError
from cobalt_trace.pipeline.exporterhelper import ExporterHelper, QueueConfig, QueueFullError, RetryConfig
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry

FAST_RETRY = RetryConfig(initial_interval=0.01, max_interval=0.02, max_elapsed_time=0, randomization_factor=0)


class Sink:
    """A fake single-attempt send: down (retryable error) until `up` is set; records span ids."""

    def __init__(self, up: bool = True):
        self.up = up
        self.ids: list[int] = []
        self.attempts = 0

    async def __call__(self, batch):
        self.attempts += 1
        await asyncio.sleep(0)
        if not self.up:
            raise RetryableError("connection refused")
        self.ids += span_ids(batch.to_bytes())


async def start_storage(directory, **cfg) -> tuple[Host, FileStorage]:
    telemetry = Telemetry()
    ext = FileStorage(
        make_settings("file_storage", kind=Kind.EXTENSION), FileStorageConfig(directory=str(directory), **cfg)
    )
    host = Host(telemetry, {ComponentID("file_storage"): ext})
    await ext.start(host)
    return host, ext


def queue_cfg(**kw) -> QueueConfig:
    kw.setdefault("storage", "file_storage")
    kw.setdefault("num_consumers", 2)
    return QueueConfig(**kw)


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


def test_queued_requests_survive_a_restart_and_are_sent_once_the_sink_is_back(tmp_path):
    async def first_run():
        host, ext = await start_storage(tmp_path)
        settings = make_settings()
        sink = Sink(up=False)
        helper = ExporterHelper(settings, sink, retry=FAST_RETRY, queue=queue_cfg(), drain_timeout=2)
        await helper.start(host)
        for i in range(20):
            await helper.consume(make_batch(i * 10, 10))
        gauge = settings.telemetry.metrics.get("otelcol_exporter_queue_size")
        assert gauge.value(exporter="otlp") == 20
        cap = settings.telemetry.metrics.get("otelcol_exporter_queue_capacity")
        assert cap.value(exporter="otlp") == 1000
        await wait_for(lambda: sink.attempts >= 4)
        await helper.shutdown()
        await ext.shutdown()
        sent_failed = settings.telemetry.metrics.get("otelcol_exporter_send_failed_spans")
        assert sent_failed.value(exporter="otlp") == 0  # kept on disk, not failed
        return sink

    async def second_run():
        host, ext = await start_storage(tmp_path)
        settings = make_settings()
        sink = Sink(up=True)
        helper = ExporterHelper(settings, sink, retry=FAST_RETRY, queue=queue_cfg())
        await helper.start(host)
        await wait_for(lambda: len(sink.ids) >= 200)
        await wait_for(lambda: helper._queue.size == 0)
        await helper.shutdown()
        await ext.shutdown()
        return sink

    first = run(first_run())
    assert first.ids == []
    second = run(second_run())
    assert sorted(second.ids) == list(range(200))

    async def third_run():  # everything was acked: nothing comes back
        host, ext = await start_storage(tmp_path)
        sink = Sink()
        helper = ExporterHelper(make_settings(), sink, retry=FAST_RETRY, queue=queue_cfg())
        await helper.start(host)
        assert helper._queue.size == 0
        await helper.shutdown()
        await ext.shutdown()

    run(third_run())


def test_permanent_failure_is_acked_and_not_redelivered(tmp_path, caplog):
    async def go(sender):
        host, ext = await start_storage(tmp_path)
        helper = ExporterHelper(make_settings(), sender, retry=FAST_RETRY, queue=queue_cfg(num_consumers=1))
        await helper.start(host)
        return host, ext, helper

    async def first():
        calls = []

        async def reject(batch):
            calls.append(batch)
            raise PermanentError("bad data")

        _, ext, helper = await go(reject)
        await helper.consume(make_batch(0, 5))
        await wait_for(lambda: calls and helper._queue.size == 0)
        await helper.shutdown()
        await ext.shutdown()

    async def second():
        sink = Sink()
        _, ext, helper = await go(sink)
        assert helper._queue.size == 0
        await helper.shutdown()
        await ext.shutdown()
        return sink

    with caplog.at_level(logging.ERROR):
        run(first())
    assert any("Dropping data" in r.getMessage() for r in caplog.records)
    assert run(second()).ids == []


def test_queue_full_is_refused_and_counted(tmp_path):
    async def go():
        host, ext = await start_storage(tmp_path)
        settings = make_settings()
        helper = ExporterHelper(
            settings, Sink(up=False), retry=FAST_RETRY, queue=queue_cfg(queue_size=25, sizer="items")
        )
        await helper.start(host)
        await helper.consume(make_batch(0, 10))
        await helper.consume(make_batch(10, 10))
        with pytest.raises(QueueFullError):
            await helper.consume(make_batch(20, 10))
        failed = settings.telemetry.metrics.get("otelcol_exporter_enqueue_failed_spans")
        assert failed.value(exporter="otlp") == 10
        await helper.shutdown()
        await ext.shutdown()

    run(go())


def test_block_on_overflow_waits_for_room(tmp_path):
    async def go():
        host, ext = await start_storage(tmp_path)
        sink = Sink(up=False)
        helper = ExporterHelper(
            make_settings(), sink, retry=FAST_RETRY, queue=queue_cfg(queue_size=2, block_on_overflow=True)
        )
        await helper.start(host)
        await helper.consume(make_batch(0, 1))
        await helper.consume(make_batch(1, 1))
        third = asyncio.create_task(helper.consume(make_batch(2, 1)))
        await asyncio.sleep(0.1)
        assert not third.done()
        sink.up = True
        await asyncio.wait_for(third, 5)
        await wait_for(lambda: len(sink.ids) == 3)
        await helper.shutdown()
        await ext.shutdown()
        return sink

    assert sorted(run(go()).ids) == [0, 1, 2]


def test_wait_for_result_reports_the_send(tmp_path):
    async def go():
        host, ext = await start_storage(tmp_path)
        sink = Sink()
        helper = ExporterHelper(
            make_settings(), sink, retry=FAST_RETRY, queue=queue_cfg(wait_for_result=True)
        )
        await helper.start(host)
        await helper.consume(make_batch(0, 4))
        assert sink.ids == [0, 1, 2, 3]  # consume returned only after the send
        await helper.shutdown()
        await ext.shutdown()

    run(go())


def test_fsync_storage_round_trip(tmp_path):
    async def go():
        host, ext = await start_storage(tmp_path, fsync=True)
        sink = Sink()
        helper = ExporterHelper(make_settings(), sink, retry=FAST_RETRY, queue=queue_cfg(num_consumers=4))
        await helper.start(host)
        await asyncio.gather(*(helper.consume(make_batch(i * 3, 3)) for i in range(30)))
        await wait_for(lambda: len(sink.ids) == 90)
        await helper.shutdown()
        await ext.shutdown()
        return sink

    assert sorted(run(go()).ids) == list(range(90))


def test_unreadable_record_is_dropped_with_an_error(tmp_path, caplog):
    async def go():
        host, ext = await start_storage(tmp_path)
        sink = Sink(up=False)
        helper = ExporterHelper(make_settings(), sink, retry=FAST_RETRY, queue=queue_cfg(num_consumers=1))
        await helper.start(host)
        await helper.consume(make_batch(0, 2))
        await helper.shutdown()
        await ext.shutdown()
        client_dir = tmp_path / "exporter_otlp__traces"
        (seg,) = client_dir.glob("seg-*.log")
        data = bytearray(seg.read_bytes())
        data[-1] ^= 0xFF
        seg.write_bytes(bytes(data))
        # the damage is found by the scan at open: the record is moved aside, nothing is sent
        host, ext = await start_storage(tmp_path)
        sink = Sink()
        helper = ExporterHelper(make_settings(), sink, retry=FAST_RETRY, queue=queue_cfg(num_consumers=1))
        await helper.start(host)
        assert helper._queue.size == 0
        await helper.shutdown()
        await ext.shutdown()
        assert list(client_dir.glob("seg-*.log.corrupt-*"))

    with caplog.at_level(logging.ERROR):
        run(go())
    assert any("is corrupt" in r.getMessage() for r in caplog.records)


def test_storage_must_be_a_storage_extension_and_host_is_needed(tmp_path):
    async def go():
        host = Host(Telemetry(), {ComponentID("bearertokenauth"): object()})
        helper = ExporterHelper(make_settings(), Sink(), queue=queue_cfg(storage="bearertokenauth"))
        with pytest.raises(ValueError, match="not a storage extension"):
            await helper.start(host)
        helper = ExporterHelper(make_settings(), Sink(), queue=queue_cfg(storage="file_storage/missing"))
        with pytest.raises(LookupError, match="file_storage/missing is not configured"):
            await helper.start(host)
        helper = ExporterHelper(make_settings(), Sink(), queue=queue_cfg())
        with pytest.raises(RuntimeError, match="must call ExporterHelper.start"):
            await helper.start(None)

    run(go())


def test_two_exporters_get_separate_queues_and_one_queue_cannot_be_opened_twice(tmp_path):
    async def go():
        host, ext = await start_storage(tmp_path, timeout=0.1)
        a = ExporterHelper(make_settings("otlp", "a"), Sink(), queue=queue_cfg())
        b = ExporterHelper(make_settings("otlp", "b"), Sink(), queue=queue_cfg())
        await a.start(host)
        await b.start(host)
        dup = ExporterHelper(make_settings("otlp", "a"), Sink(), queue=queue_cfg())
        with pytest.raises(RuntimeError, match="in use"):
            await dup.start(host)
        for h in (a, b):
            await h.shutdown()
        await ext.shutdown()

    run(go())
    assert {p.name for p in tmp_path.iterdir()} == {"exporter_otlp_a_traces", "exporter_otlp_b_traces"}


def test_file_storage_config(tmp_path):
    cfg, errors = decode(FileStorageConfig, {"directory": str(tmp_path / "nope")}, "extensions::file_storage")
    assert errors == [
        f"extensions::file_storage::directory: {str(tmp_path / 'nope')!r} does not exist; "
        "create it or set create_directory: true"
    ]
    cfg, errors = decode(
        FileStorageConfig, {"directory": str(tmp_path / "new"), "create_directory": True}, "x"
    )
    assert errors == []
    assert (cfg.timeout, cfg.fsync, cfg.compaction.max_transaction_size) == (1, False, 65536)
    _, errors = decode(
        FileStorageConfig,
        {
            "directory": str(tmp_path),
            "compaction": {"on_rebound": True, "rebound_trigger_threshold_mib": 200},
        },
        "x",
    )
    assert errors == [
        "x::compaction::rebound_trigger_threshold_mib: must be smaller than rebound_needed_threshold_mib"
    ]
    _, errors = decode(QueueConfig, {"storage": "file_storage/"}, "sending_queue")
    assert errors and errors[0].startswith("sending_queue::storage: name part must be specified")

    async def created():
        ext = FileStorage(make_settings("file_storage", kind=Kind.EXTENSION), cfg)
        await ext.start(Host(Telemetry()))
        await ext.shutdown()

    run(created())
    assert (tmp_path / "new").is_dir()


def test_rebound_compaction_runs_when_the_size_falls(tmp_path, caplog):
    rebound = CompactionConfig(
        on_rebound=True, rebound_needed_threshold_mib=1, rebound_trigger_threshold_mib=1, check_interval=0.02
    )

    async def go():
        host, ext = await start_storage(tmp_path, compaction=rebound)
        log = ext.get_client(Kind.EXPORTER, "otlp", "traces")
        big = b"x" * 100_000
        seqs = [(await log.append([(1, big)]))[0] for _ in range(15)]  # 1.5 MB: above "needed"
        await asyncio.sleep(0.1)
        for s in seqs:
            log.ack(s)
        assert log.disk_bytes > 1_000_000  # the file being written stays until compaction
        await asyncio.sleep(0.1)
        assert log.disk_bytes < 1000
        await ext.shutdown()

    with caplog.at_level(logging.INFO):
        run(go())
    assert any("compacted exporter_otlp__traces" in r.getMessage() for r in caplog.records)
