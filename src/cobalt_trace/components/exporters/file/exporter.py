"""Writes each batch as one OTLP/JSON line (`format: json`) or as a 4-byte big-endian length
followed by the protobuf `TracesData` (`format: proto`, and always when `compression: zstd`,
where each message is compressed on its own), as upstream's file exporter does.

Writes go into a userspace buffer on the event loop (cheap); `flush_interval` pushes the buffer
to the OS from a periodic task."""

from __future__ import annotations

import asyncio
import struct

from ....pipeline.component import Component
from ....pipeline.errors import RetryableError
from ....wire.batch import SpanBatch
from .rotating import RotatingFile

__all__ = ["FileExporter"]

_LENGTH = struct.Struct(">I")


def _encode_json(batch: SpanBatch) -> bytes:
    """OTLP/JSON via the shared codec in `wire.otlp_json`."""
    from ....wire.otlp_json import traces_to_json

    out = traces_to_json(batch)
    return out.encode() if isinstance(out, str) else bytes(out)


class FileExporter(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self.logger = settings.telemetry.child_logger(f"exporter.{settings.id}")
        self._file: RotatingFile | None = None
        self._flusher: asyncio.Task | None = None
        self._sent = settings.telemetry.metrics.counter(
            "otelcol_exporter_sent_spans", "Spans successfully sent"
        ).labels(exporter=str(settings.id))
        self._compress = None
        if config.compression == "zstd":
            import cramjam

            self._compress = lambda data: bytes(cramjam.zstd.compress(data))

    async def start(self, host) -> None:
        cfg = self.config
        rot = cfg.rotation
        self._file = RotatingFile(
            cfg.path,
            append=cfg.append,
            max_bytes=(rot.max_megabytes * 1024 * 1024) if rot else 0,
            max_backups=rot.max_backups if rot else 0,
            max_days=rot.max_days if rot else 0,
            localtime=rot.localtime if rot else False,
        )
        if cfg.flush_interval > 0:
            self._flusher = asyncio.create_task(self._flush_periodically(), name=f"{self.id}-flush")

    def _record(self, batch: SpanBatch) -> bytes:
        if self.config.format == "json":
            data = _encode_json(batch)
            if self._compress is None:
                return data.rstrip(b"\n") + b"\n"
        else:
            data = batch.to_bytes()
        if self._compress is not None:
            data = self._compress(data)
        return _LENGTH.pack(len(data)) + data

    async def consume(self, batch: SpanBatch) -> None:
        if self._file is None:
            raise RetryableError(f"exporter {self.id} is not running")
        try:
            self._file.write(self._record(batch))
            if self.config.flush_interval == 0:
                self._file.flush()
        except OSError as exc:
            raise RetryableError(f"writing {self.config.path} failed: {exc}") from exc
        self._sent.add(batch.span_count)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            try:
                self._file.flush()
            except OSError as exc:
                self.logger.error("Flushing %s failed: %s", self.config.path, exc)

    async def shutdown(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None
