"""`file_storage`: hands each component its own `SegmentLog` under `directory`.

A client's files live in `<directory>/<kind>_<type>_<name>_<client name>/` (upstream names one
bbolt file the same way, e.g. `exporter_otlp__traces`).  With `compaction.on_rebound`, every
`check_interval` each client is looked at: once its files have grown above
`rebound_needed_threshold_mib` and the data still unacknowledged has then fallen below
`rebound_trigger_threshold_mib`, its partly acknowledged segment files are rewritten to hold only
live records (fully acknowledged files are deleted at once anyway, compaction or not).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

from ....pipeline.component import Component, ComponentID, Kind
from .segmentlog import SegmentLog

__all__ = ["FileStorage", "client_directory_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._\-]")
_MIB = 1 << 20


def client_directory_name(kind: Kind | str, component_id: ComponentID | str, name: str) -> str:
    kind_name = kind.singular if isinstance(kind, Kind) else str(kind)
    cid = component_id if isinstance(component_id, ComponentID) else ComponentID.parse(str(component_id))
    raw = f"{kind_name}_{cid.type}_{cid.name}_{name}"
    return _UNSAFE.sub("~", raw)


class FileStorage(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self.logger = settings.telemetry.child_logger(f"extension.{settings.id}")
        self._clients: dict[str, SegmentLog] = {}
        self._rebound_armed: set[str] = set()
        self._checker: asyncio.Task | None = None

    @property
    def directory(self) -> Path:
        return Path(self.config.directory)

    async def start(self, host) -> None:
        cfg = self.config
        if cfg.create_directory:
            self.directory.mkdir(mode=cfg.permissions, parents=True, exist_ok=True)
        if not self.directory.is_dir():
            raise RuntimeError(f"file_storage: directory {cfg.directory!r} does not exist")
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise RuntimeError(f"file_storage: directory {cfg.directory!r} is not writable")
        comp = cfg.compaction
        if comp.cleanup_on_start:
            for leftover in Path(comp.directory or cfg.directory).glob("cobalt-compact-*.tmp"):
                leftover.unlink(missing_ok=True)
        if comp.on_rebound:
            self._checker = asyncio.create_task(self._watch_rebound(), name=f"{self.id}-rebound")

    async def shutdown(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            await asyncio.gather(self._checker, return_exceptions=True)
        for client in list(self._clients.values()):
            await client.aclose()
        self._clients.clear()

    def get_client(self, kind: Kind | str, component_id: ComponentID | str, name: str) -> SegmentLog:
        """Open (recovering what is on disk) the storage of one component; one holder at a time."""
        cfg = self.config
        dirname = client_directory_name(kind, component_id, name)
        path = self.directory / dirname
        if cfg.recreate and path.exists():
            backup = path.with_name(f"{dirname}.backup-{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(path, backup)
            self.logger.warning("file_storage: recreate is set; moved %s aside to %s", path, backup.name)
        client = SegmentLog(
            path,
            fsync=cfg.fsync,
            lock_timeout=float(cfg.timeout),
            logger=self.logger,
            temp_directory=cfg.compaction.directory or None,
            max_transaction_size=cfg.compaction.max_transaction_size,
        ).open()
        if cfg.compaction.on_start:
            before, after = client.compact()
            self.logger.info("file_storage: compacted %s on start: %d -> %d bytes", dirname, before, after)
        self._clients[dirname] = client
        return client

    def release_client(self, client: SegmentLog) -> None:
        """Forget a client its holder has closed."""
        for key, value in list(self._clients.items()):
            if value is client:
                del self._clients[key]

    async def _watch_rebound(self) -> None:
        comp = self.config.compaction
        while True:
            await asyncio.sleep(float(comp.check_interval))
            for name, client in list(self._clients.items()):
                if client.disk_bytes > comp.rebound_needed_threshold_mib * _MIB:
                    self._rebound_armed.add(name)
                if (
                    name in self._rebound_armed
                    and client.live_bytes < comp.rebound_trigger_threshold_mib * _MIB
                ):
                    self._rebound_armed.discard(name)
                    try:
                        before, after = client.compact()
                    except OSError as exc:
                        self.logger.warning("file_storage: compaction of %s failed: %s", name, exc)
                        continue
                    self.logger.info("file_storage: compacted %s: %d -> %d bytes", name, before, after)
