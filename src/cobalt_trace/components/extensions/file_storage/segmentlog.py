"""One storage client's files: an append-only log of records in segment files plus an ack log.

    <client dir>/LOCK                     flock'ed while open: one process per client
    <client dir>/seg-<first seq>.log      records: length u32 | crc32 u32 | seq u64 | meta u32 | payload
    <client dir>/acks.log                 records whose payload is: watermark u64 | acked seq u64 ...

A record is acknowledged by appending its sequence number to the ack log; a segment file is
deleted once every record in it is acknowledged and it is no longer the one being written.  At
open the files are scanned: a record whose length or CRC does not check out (a crash in the
middle of a write, a damaged disk) ends what is kept of that file; the file is moved aside as
`<name>.corrupt-<time>`, its intact records are written back under the original name, and an
ERROR names both files and what was kept.

Durability (`fsync`):
- false: `append` returns once the bytes are in the kernel's page cache (`write(2)` done).  That
  survives the process being killed (`kill -9`, OOM kill, a crash), not a power cut or a kernel
  panic, which can lose the last seconds the kernel had not yet written back.
- true: appends waiting at the same time are written and `fsync`ed together in a worker thread
  (group commit) and `append` returns after the `fsync`; new segment files also sync their
  directory.  Acks are never fsynced: losing one after a power cut means a record is delivered
  again, never that one is lost.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SegmentLog", "StorageLockedError", "CorruptRecordError", "SEGMENT_BYTES"]

HEADER = struct.Struct("<IIQI")  # payload length, crc32(seq|meta|payload), seq, meta
_CRC_PREFIX = struct.Struct("<QI")
_U64 = struct.Struct("<Q")
MAX_RECORD_BYTES = 1 << 30
SEGMENT_BYTES = 8 << 20
ACK_REWRITE_BYTES = 256 << 10
ACK_FILE = "acks.log"
LOCK_FILE = "LOCK"
_SEGMENT_NAME = re.compile(r"^seg-(\d{20})\.log$")


class StorageLockedError(RuntimeError):
    """Another process (or another client in this one) holds the client's files."""


class CorruptRecordError(RuntimeError):
    """A record read back does not match its checksum."""


def _crc(seq: int, meta: int, payload) -> int:
    return zlib.crc32(payload, zlib.crc32(_CRC_PREFIX.pack(seq, meta)))


def _frame(seq: int, meta: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), _crc(seq, meta, payload), seq, meta) + payload


@dataclass(eq=False)
class _Segment:
    path: Path
    fd: int
    size: int = 0
    seqs: list[int] = field(default_factory=list)  # every record in the file, live or acked
    live: int = 0  # records not yet acknowledged


@dataclass(slots=True)
class _Scan:
    records: list[tuple[int, int, int, int]]  # seq, meta, offset of the header, payload length
    good_bytes: int
    problem: str = ""


def _scan(data: bytes) -> _Scan:
    """Every intact record of a file's bytes; stops at the first one that does not check out."""
    records: list[tuple[int, int, int, int]] = []
    pos, end, last_seq = 0, len(data), -1
    while pos < end:
        if end - pos < HEADER.size:
            return _Scan(records, pos, f"truncated record header ({end - pos} of {HEADER.size} bytes)")
        length, crc, seq, meta = HEADER.unpack_from(data, pos)
        if length > MAX_RECORD_BYTES:
            return _Scan(records, pos, f"implausible record length {length}")
        body = pos + HEADER.size
        if body + length > end:
            return _Scan(records, pos, f"truncated record ({end - body} of {length} payload bytes)")
        if _crc(seq, meta, memoryview(data)[body : body + length]) != crc:
            return _Scan(records, pos, f"checksum mismatch in record {seq}")
        if seq <= last_seq:
            return _Scan(records, pos, f"sequence number {seq} does not follow {last_seq}")
        records.append((seq, meta, pos, length))
        last_seq = seq
        pos = body + length
    return _Scan(records, pos)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class SegmentLog:
    """A durable FIFO of records with out-of-order acknowledgement; one per storage client."""

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        fsync: bool = False,
        lock_timeout: float = 1.0,
        logger: logging.Logger | None = None,
        segment_bytes: int = SEGMENT_BYTES,
        temp_directory: str | os.PathLike | None = None,
        max_transaction_size: int = 65536,
    ):
        self.directory = Path(directory)
        self.fsync = fsync
        self._lock_timeout = lock_timeout
        self._log = logger or logging.getLogger("cobalt_trace.file_storage")
        self._segment_bytes = segment_bytes
        self._temp_dir = Path(temp_directory) if temp_directory else self.directory
        self._max_txn = max_transaction_size
        self._segments: list[_Segment] = []
        self._active: _Segment | None = None
        self._where: dict[int, tuple[_Segment, int, int]] = {}  # live seq -> segment, offset, length
        self._metas: dict[int, int] = {}
        self._live_bytes = 0
        self._next_seq = 1
        self._lock_fd: int | None = None
        self._ack_fd: int | None = None
        self._ack_bytes = 0
        self._ack_serial = 0  # ack records are numbered like data records, so a scan checks them
        self._ack_rewrite_at = ACK_REWRITE_BYTES
        self._pending: list[tuple[list[tuple[int, bytes]], asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self._closed = False
        self.recovered: list[tuple[int, int]] = []  # (seq, meta) found unacknowledged at open

    # -- open / close ----------------------------------------------------------------------------
    def open(self) -> SegmentLog:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            for leftover in self.directory.glob("*.tmp"):
                leftover.unlink(missing_ok=True)
            watermark, acked = self._read_acks()
            self._recover_segments(watermark, acked)
            self._rewrite_acks()
        except BaseException:
            self.close()
            raise
        self.recovered = [(seq, self._metas[seq]) for seq in self._where]
        return self

    def _lock(self) -> None:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o640)
        deadline = time.monotonic() + self._lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self._lock_timeout and time.monotonic() >= deadline:
                    os.close(fd)
                    raise StorageLockedError(
                        f"{self.directory} is in use by another process or component "
                        f"(waited {self._lock_timeout:g}s for its lock)"
                    ) from None
                time.sleep(0.01)
        self._lock_fd = fd

    def close(self) -> None:
        """Release the files.  Appends still waiting for a group commit fail."""
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
        for _, fut in self._pending:
            if not fut.done():
                fut.set_exception(RuntimeError("storage client closed"))
        self._pending.clear()
        for seg in self._segments:
            os.close(seg.fd)
        self._segments.clear()
        self._active = None
        if self._ack_fd is not None:
            os.close(self._ack_fd)
            self._ack_fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    async def aclose(self) -> None:
        """Close after the group commit in progress (if any) has finished."""
        if self._flusher is not None and not self._flusher.done():
            try:
                await asyncio.shield(self._flusher)
            except Exception:
                pass
        self.close()

    # -- recovery --------------------------------------------------------------------------------
    def _move_aside(self, path: Path, data: bytes, scan: _Scan, what: str) -> None:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        os.replace(path, aside)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data[: scan.good_bytes])
        os.replace(tmp, path)
        self._log.error(
            "file_storage: %s is corrupt at byte %d of %d (%s); kept the %d intact %s before it "
            "(%d bytes) in %s and moved the damaged file to %s",
            path,
            scan.good_bytes,
            len(data),
            scan.problem,
            len(scan.records),
            what,
            scan.good_bytes,
            path.name,
            aside.name,
        )

    def _read_acks(self) -> tuple[int, set[int]]:
        path = self.directory / ACK_FILE
        if not path.exists():
            return 0, set()
        data = path.read_bytes()
        scan = _scan(data)
        if scan.problem:
            self._move_aside(path, data, scan, "ack records (later acknowledgements may be re-sent)")
        watermark, acked = 0, set()
        view = memoryview(data)
        for _, _, offset, length in scan.records:
            body = view[offset + HEADER.size : offset + HEADER.size + length]
            if length < _U64.size or length % _U64.size:
                continue
            seqs = struct.unpack_from(f"<{length // _U64.size}Q", body)
            watermark = max(watermark, seqs[0])
            acked.update(seqs[1:])
        return watermark, acked

    def _recover_segments(self, watermark: int, acked: set[int]) -> None:
        names = sorted(p for p in self.directory.iterdir() if _SEGMENT_NAME.match(p.name))
        highest = max(watermark - 1, max(acked, default=0))
        for path in names:
            data = path.read_bytes()
            scan = _scan(data)
            if scan.problem:
                self._move_aside(path, data, scan, "records")
            seg = _Segment(path, os.open(path, os.O_RDWR | os.O_APPEND), scan.good_bytes)
            for seq, meta, offset, length in scan.records:
                highest = max(highest, seq)
                if seq < watermark or seq in acked or seq in self._where:
                    continue  # acknowledged, or a copy left by an interrupted compaction
                seg.seqs.append(seq)
                seg.live += 1
                self._where[seq] = (seg, offset, length)
                self._metas[seq] = meta
                self._live_bytes += HEADER.size + length
            if seg.live:
                self._segments.append(seg)
            else:
                os.close(seg.fd)
                path.unlink()
        self._next_seq = highest + 1
        # seqs were added segment by segment; keep `_where` in sequence order for `recovered`
        self._where = dict(sorted(self._where.items()))

    # -- writing ---------------------------------------------------------------------------------
    def _new_segment(self) -> _Segment:
        path = self.directory / f"seg-{self._next_seq:020d}.log"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        seg = _Segment(path, fd)
        self._segments.append(seg)
        return seg

    def _writable_segment(self) -> tuple[_Segment, bool]:
        seg = self._active
        created = False
        if seg is None or seg.size >= self._segment_bytes:
            old = seg
            seg = self._active = self._new_segment()
            created = True
            if old is not None and old.live == 0:
                self._drop_segment(old)
        return seg, created

    def _frame_all(self, records: list[tuple[int, bytes]]) -> tuple[list[tuple[int, int, int]], bytes]:
        placed, parts = [], []
        for meta, payload in records:
            seq = self._next_seq
            self._next_seq += 1
            placed.append((seq, meta, len(payload)))
            parts.append(_frame(seq, meta, payload))
        return placed, b"".join(parts)

    def _register(
        self, seg: _Segment, start: int, placed: list[tuple[int, int, int]], nbytes: int
    ) -> list[int]:
        offset = start
        for seq, meta, length in placed:
            self._where[seq] = (seg, offset, length)
            self._metas[seq] = meta
            seg.seqs.append(seq)
            offset += HEADER.size + length
        self._live_bytes += offset - start
        seg.live += len(placed)
        seg.size = start + nbytes
        return [seq for seq, _, _ in placed]

    @staticmethod
    def _write_at_end(seg: _Segment, data: bytes, sync: bool, sync_dir: Path | None) -> None:
        try:
            _write_all(seg.fd, data)
            if sync:
                os.fsync(seg.fd)
        except OSError:
            try:  # leave no half record behind that would end the file at the next scan
                os.ftruncate(seg.fd, seg.size)
            except OSError:
                pass
            raise
        if sync_dir is not None:
            dfd = os.open(sync_dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    async def append(self, records: list[tuple[int, bytes]]) -> list[int]:
        """Store `(meta, payload)` records; returns their sequence numbers once they are durable
        under the fsync policy (see the module docstring).  Raises OSError when the disk refuses."""
        if self._closed:
            raise RuntimeError("storage client closed")
        if not self.fsync:
            seg, _ = self._writable_segment()
            placed, data = self._frame_all(records)
            self._write_at_end(seg, data, False, None)
            return self._register(seg, seg.size, placed, len(data))
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((records, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._group_commits())
        return await fut

    async def _group_commits(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending and not self._closed:
            group, self._pending = self._pending, []
            seg, created = self._writable_segment()
            placed, data = self._frame_all([r for records, _ in group for r in records])
            start = seg.size
            try:
                await loop.run_in_executor(
                    None, self._write_at_end, seg, data, True, self.directory if created else None
                )
            except OSError as exc:
                for _, fut in group:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            seqs = self._register(seg, start, placed, len(data))
            i = 0
            for records, fut in group:
                if not fut.done():
                    fut.set_result(seqs[i : i + len(records)])
                i += len(records)

    # -- reading and acknowledging ---------------------------------------------------------------
    def read(self, seq: int) -> bytes:
        """The payload of a live record; CorruptRecordError when the disk changed it."""
        seg, offset, length = self._where[seq]
        data = os.pread(seg.fd, HEADER.size + length, offset)
        if len(data) != HEADER.size + length:
            raise CorruptRecordError(f"record {seq} in {seg.path.name} is cut short")
        _, crc, stored_seq, meta = HEADER.unpack_from(data)
        payload = data[HEADER.size :]
        if stored_seq != seq or _crc(seq, meta, payload) != crc:
            raise CorruptRecordError(f"record {seq} in {seg.path.name} does not match its checksum")
        return payload

    def meta(self, seq: int) -> int:
        return self._metas[seq]

    def ack(self, seq: int) -> None:
        """Mark a record done; its file goes once all its records are done.  Unknown seqs are ignored."""
        found = self._where.pop(seq, None)
        if found is None or self._closed:
            return
        self._metas.pop(seq, None)
        seg = found[0]
        seg.live -= 1
        self._live_bytes -= HEADER.size + found[2]
        self._ack_serial += 1
        record = _frame(self._ack_serial, 0, _U64.pack(0) + _U64.pack(seq))
        try:
            _write_all(self._ack_fd, record)
            self._ack_bytes += len(record)
        except OSError as exc:  # the record will be delivered again after a restart, not lost
            self._log.warning("file_storage: cannot record acknowledgement in %s: %s", self.directory, exc)
        if seg.live == 0 and seg is not self._active:
            self._drop_segment(seg)
        if self._ack_bytes >= self._ack_rewrite_at:
            self._rewrite_acks()

    def _drop_segment(self, seg: _Segment) -> None:
        self._segments.remove(seg)
        os.close(seg.fd)
        seg.path.unlink(missing_ok=True)

    def _rewrite_acks(self) -> None:
        """Replace the ack log by one record: the lowest live seq and the acked seqs above it that
        are still in a segment file."""
        watermark = next(iter(self._where), self._next_seq)
        acked = [s for seg in self._segments for s in seg.seqs if s >= watermark and s not in self._where]
        body = b"".join(_U64.pack(s) for s in [watermark, *acked])
        path = self.directory / ACK_FILE
        tmp = path.with_name(ACK_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o640)
        try:
            _write_all(fd, _frame(1, 0, body))
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        os.replace(tmp, path)
        if self._ack_fd is not None:
            os.close(self._ack_fd)
        self._ack_fd = fd
        self._ack_bytes = HEADER.size + len(body)
        self._ack_serial = 1
        self._ack_rewrite_at = max(ACK_REWRITE_BYTES, 2 * self._ack_bytes)

    # -- size and compaction ---------------------------------------------------------------------
    @property
    def disk_bytes(self) -> int:
        return sum(seg.size for seg in self._segments) + self._ack_bytes

    @property
    def live_bytes(self) -> int:
        """Bytes of the records not yet acknowledged."""
        return self._live_bytes

    @property
    def live_count(self) -> int:
        return len(self._where)

    def compact(self) -> tuple[int, int]:
        """Rewrite closed segments that hold acknowledged records so they hold only live ones.
        Returns the bytes on disk before and after."""
        before = self.disk_bytes
        active = self._active
        flushing = self._flusher is not None and not self._flusher.done()
        if active is not None and not flushing and active.live < len(active.seqs):
            self._active = None  # closed now; the next append starts a new file
        for seg in [s for s in self._segments if s is not self._active]:
            live = [s for s in seg.seqs if s in self._where]
            if len(live) < len(seg.seqs):
                self._compact_segment(seg, live)
        self._rewrite_acks()
        return before, self.disk_bytes

    def _compact_segment(self, seg: _Segment, live: list[int]) -> None:
        if not live:
            self._drop_segment(seg)
            return
        target = self.directory / f"seg-{live[0]:020d}.log"
        tmp = self._temp_dir / f"cobalt-compact-{os.getpid()}-{target.name}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o640)
        placements: dict[int, tuple[int, int]] = {}
        size = 0
        try:
            for i in range(0, len(live), self._max_txn):
                chunk = []
                for seq in live[i : i + self._max_txn]:
                    _, offset, length = self._where[seq]
                    placements[seq] = (size, length)
                    chunk.append(os.pread(seg.fd, HEADER.size + length, offset))
                    size += HEADER.size + length
                _write_all(fd, b"".join(chunk))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if tmp.parent != self.directory:
            staged = self.directory / (target.name + ".tmp")
            if _same_fs(tmp.parent, self.directory):
                os.replace(tmp, staged)
            else:
                _copy(tmp, staged)
            tmp = staged
        os.replace(tmp, target)  # if the old file had this name, it is replaced atomically
        new = _Segment(target, os.open(target, os.O_RDWR | os.O_APPEND), size, list(live), len(live))
        os.close(seg.fd)
        if seg.path != target:
            seg.path.unlink(missing_ok=True)
        self._segments[self._segments.index(seg)] = new
        for seq, (offset, length) in placements.items():
            self._where[seq] = (new, offset, length)


def _same_fs(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def _copy(src: Path, dst: Path) -> None:
    import shutil

    shutil.copyfile(src, dst)
    src.unlink()
