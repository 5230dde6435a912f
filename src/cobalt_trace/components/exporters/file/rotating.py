"""A file that rotates by size like lumberjack (what upstream uses): the full file is renamed to
`<stem>-<UTC time>.<ext>` and a new one started; old backups are pruned by count and age."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["RotatingFile", "BACKUP_TIME_FORMAT"]

BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S.%f"  # trimmed to milliseconds, as lumberjack's


class RotatingFile:
    def __init__(
        self,
        path: str,
        *,
        append: bool,
        max_bytes: int = 0,
        max_backups: int = 0,
        max_days: int = 0,
        localtime: bool = False,
    ):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.max_backups = max_backups
        self.max_days = max_days
        self.localtime = localtime
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # rotation always continues the current file (lumberjack); `append` decides otherwise
        mode = "ab" if (append or max_bytes) else "wb"
        self._file = open(self.path, mode, buffering=256 * 1024)  # noqa: SIM115 - kept open for the exporter's life
        self._size = self._file.tell()

    def write(self, data: bytes) -> None:
        if self.max_bytes and self._size and self._size + len(data) > self.max_bytes:
            self.rotate()
        self._file.write(data)
        self._size += len(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def rotate(self) -> None:
        self._file.close()
        self.path.rename(self._backup_name())
        self._file = open(self.path, "wb", buffering=256 * 1024)  # noqa: SIM115
        self._size = 0
        self._prune()

    def _backup_name(self) -> Path:
        now = datetime.now() if self.localtime else datetime.now(UTC)
        stamp = now.strftime(BACKUP_TIME_FORMAT)[:-3]
        name = f"{self.path.stem}-{stamp}{self.path.suffix}"
        candidate, n = self.path.with_name(name), 1
        while candidate.exists():  # two rotations within one millisecond
            candidate = self.path.with_name(f"{self.path.stem}-{stamp}.{n}{self.path.suffix}")
            n += 1
        return candidate

    def backups(self) -> list[Path]:
        """Rotated files, oldest first."""
        prefix, suffix = f"{self.path.stem}-", self.path.suffix
        found = [
            p
            for p in self.path.parent.iterdir()
            if p.name.startswith(prefix) and p.name.endswith(suffix) and p != self.path
        ]
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def _prune(self) -> None:
        backups = self.backups()
        doomed: list[Path] = []
        if self.max_backups and len(backups) > self.max_backups:
            doomed += backups[: len(backups) - self.max_backups]
        if self.max_days:
            cutoff = time.time() - self.max_days * 86400
            doomed += [p for p in backups if p not in doomed and p.stat().st_mtime < cutoff]
        for p in doomed:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
