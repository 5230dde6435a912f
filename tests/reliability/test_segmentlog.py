"""file_storage's SegmentLog: durable records, recovery after restarts, damaged files, compaction."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest
from reliakit import run

from cobalt_trace.components.extensions.file_storage import segmentlog
from cobalt_trace.components.extensions.file_storage.segmentlog import SegmentLog, StorageLockedError


def open_log(path, **kw) -> SegmentLog:
    kw.setdefault("lock_timeout", 0.2)
    return SegmentLog(path, **kw).open()


def payload(i: int) -> bytes:
    return f"record-{i}-".encode() * (i % 7 + 1)


def fill(log: SegmentLog, n: int, start: int = 0) -> list[int]:
    async def go():
        seqs = []
        for i in range(start, start + n):
            seqs += await log.append([(i, payload(i))])
        return seqs

    return run(go())


def segments(path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name.startswith("seg-") and p.name.endswith(".log"))


def test_records_survive_reopen_and_only_unacked_come_back(tmp_path):
    log = open_log(tmp_path)
    seqs = fill(log, 10)
    assert [log.read(s) for s in seqs] == [payload(i) for i in range(10)]
    for s in seqs[:4] + [seqs[6]]:
        log.ack(s)
    log.close()

    log = open_log(tmp_path)
    left = [s for i, s in enumerate(seqs) if i >= 4 and i != 6]
    assert log.recovered == [(s, seqs.index(s)) for s in left]  # meta kept
    assert [log.read(s) for s in left] == [payload(seqs.index(s)) for s in left]
    (new,) = fill(log, 1, start=10)
    assert new > seqs[-1]  # sequence numbers never repeat
    log.close()


def test_fully_acked_segments_are_deleted(tmp_path):
    log = open_log(tmp_path, segment_bytes=200)
    seqs = fill(log, 40)
    assert len(segments(tmp_path)) > 3
    for s in seqs:
        log.ack(s)
    assert len(segments(tmp_path)) == 1  # only the one being written
    log.close()
    log = open_log(tmp_path)
    assert log.recovered == []
    assert segments(tmp_path) == []
    log.close()


def test_truncated_tail_is_moved_aside_and_the_intact_records_kept(tmp_path, caplog):
    log = open_log(tmp_path)
    seqs = fill(log, 5)
    log.close()
    (name,) = segments(tmp_path)
    path = tmp_path / name
    size = path.stat().st_size
    os.truncate(path, size - 3)  # a crash in the middle of the last write

    with caplog.at_level(logging.ERROR):
        log = open_log(tmp_path)
    assert [s for s, _ in log.recovered] == seqs[:4]
    assert [log.read(s) for s in seqs[:4]] == [payload(i) for i in range(4)]
    (aside,) = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert aside.name.startswith(name + ".corrupt-") and aside.stat().st_size == size - 3
    (msg,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert name in msg and aside.name in msg and "kept the 4 intact records" in msg
    assert "truncated record" in msg
    log.close()


def test_flipped_byte_ends_that_file_but_later_segments_are_kept(tmp_path, caplog):
    log = open_log(tmp_path, segment_bytes=150)
    seqs = fill(log, 12)
    log.close()
    names = segments(tmp_path)
    assert len(names) >= 3
    first = tmp_path / names[0]
    data = bytearray(first.read_bytes())
    data[-2] ^= 0xFF  # damage the payload of the first file's last record
    first.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR):
        log = open_log(tmp_path)
    recovered = [s for s, _ in log.recovered]
    lost = set(seqs) - set(recovered)
    assert len(lost) == 1  # only the damaged record
    assert recovered == sorted(recovered)
    assert any("checksum mismatch" in r.getMessage() for r in caplog.records)
    log.close()


def test_garbage_segment_is_moved_aside_and_open_still_succeeds(tmp_path, caplog):
    (tmp_path / f"seg-{1:020d}.log").write_bytes(os.urandom(100))
    with caplog.at_level(logging.ERROR):
        log = open_log(tmp_path)
    assert log.recovered == []
    assert any(".corrupt-" in p.name for p in tmp_path.iterdir())
    assert caplog.records
    fill(log, 2)
    log.close()


def test_damaged_ack_log_means_redelivery_not_loss(tmp_path, caplog):
    log = open_log(tmp_path)
    seqs = fill(log, 6)
    for s in seqs[:3]:
        log.ack(s)
    log.close()
    (tmp_path / "acks.log").write_bytes(b"\x00\x01garbage")
    with caplog.at_level(logging.ERROR):
        log = open_log(tmp_path)
    assert [s for s, _ in log.recovered] == seqs  # acked ones come back: duplicates, nothing lost
    assert any("acks.log" in r.getMessage() for r in caplog.records)
    log.close()


def test_ack_log_rewrites_keep_acks_of_files_still_on_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(segmentlog, "ACK_REWRITE_BYTES", 100)
    log = open_log(tmp_path)
    seqs = fill(log, 50)  # one segment, never deleted while it is written
    keep = {seqs[0], seqs[25]}
    for s in seqs:
        if s not in keep:
            log.ack(s)  # rewrites the ack log many times
    log.close()
    log = open_log(tmp_path)
    assert [s for s, _ in log.recovered] == sorted(keep)
    log.close()


def test_second_holder_is_refused_with_the_lock_timeout(tmp_path):
    log = open_log(tmp_path)
    with pytest.raises(StorageLockedError, match="in use by another process"):
        open_log(tmp_path, lock_timeout=0.1)
    log.close()
    open_log(tmp_path).close()  # free again


def test_group_commit_with_fsync(tmp_path):
    log = open_log(tmp_path, fsync=True)

    async def go():
        results = await asyncio.gather(*(log.append([(i, payload(i))]) for i in range(50)))
        return [s for (s,) in results]

    seqs = run(go())
    assert len(set(seqs)) == 50 and sorted(seqs) == seqs
    run(log.aclose())
    log = open_log(tmp_path, fsync=True)
    assert [meta for _, meta in log.recovered] == list(range(50))
    assert log.read(seqs[7]) == payload(7)
    log.close()


def test_compaction_keeps_live_records_only(tmp_path):
    log = open_log(tmp_path, segment_bytes=400)
    seqs = fill(log, 60)
    fill(log, 1, start=60)  # rolls on, so every earlier file is closed
    live = seqs[1::2]
    for s in seqs[::2]:
        log.ack(s)
    before, after = log.compact()
    assert after < before
    assert [log.read(s) for s in live] == [payload(seqs.index(s)) for s in live]
    log.close()
    log = open_log(tmp_path)
    assert [s for s, _ in log.recovered][: len(live)] == live
    log.close()


def test_compaction_into_another_directory(tmp_path):
    other = tmp_path / "compaction"
    other.mkdir()
    log = open_log(tmp_path / "client", segment_bytes=300, temp_directory=other)
    seqs = fill(log, 30)
    fill(log, 1, start=30)
    for s in seqs[:20]:
        log.ack(s)
    log.compact()
    assert [log.read(s) for s in seqs[20:]] == [payload(i) for i in range(20, 30)]
    assert not list(other.iterdir())
    log.close()


def test_failed_write_leaves_no_half_record(tmp_path, monkeypatch):
    log = open_log(tmp_path)
    fill(log, 3)
    real_write = os.write

    def short_then_fail(fd, data):
        real_write(fd, bytes(data)[:5])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(segmentlog.os, "write", short_then_fail)
    with pytest.raises(OSError, match="No space"):
        fill(log, 1, start=3)
    monkeypatch.setattr(segmentlog.os, "write", real_write)
    fill(log, 1, start=4)
    log.close()
    log = open_log(tmp_path)
    assert [meta for _, meta in log.recovered] == [0, 1, 2, 4]
    assert not any(".corrupt-" in p.name for p in tmp_path.iterdir())
    log.close()
