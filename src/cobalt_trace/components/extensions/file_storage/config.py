"""`file_storage` settings; keys and defaults as contrib's `extension/storage/filestorage`.

`directory` defaults to upstream's Linux path, `/var/lib/otelcol/file_storage`; like upstream it
must exist unless `create_directory: true`.  `timeout` is how long opening a client waits for the
lock of its files (another process using the same directory); 0 waits forever, as upstream.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ....pipeline.configtypes import Duration

__all__ = ["FileStorageConfig", "CompactionConfig", "DEFAULT_DIRECTORY"]

DEFAULT_DIRECTORY = "/var/lib/otelcol/file_storage"


@dataclass
class CompactionConfig:
    on_start: bool = False
    on_rebound: bool = False
    directory: str = ""  # where rewritten files are prepared; default: the storage directory
    max_transaction_size: int = 65536  # records copied per write during a compaction
    rebound_needed_threshold_mib: int = 100
    rebound_trigger_threshold_mib: int = 10
    check_interval: Duration = Duration(5)
    cleanup_on_start: bool = False  # remove compaction leftovers of a crashed run at start

    def validate(self) -> list[str]:
        errors = []
        if self.max_transaction_size <= 0:
            errors.append("max_transaction_size: must be positive")
        if self.rebound_needed_threshold_mib < 0 or self.rebound_trigger_threshold_mib < 0:
            errors.append("rebound_needed_threshold_mib: thresholds must not be negative")
        elif self.on_rebound and self.rebound_trigger_threshold_mib >= self.rebound_needed_threshold_mib:
            errors.append("rebound_trigger_threshold_mib: must be smaller than rebound_needed_threshold_mib")
        if self.on_rebound and self.check_interval <= 0:
            errors.append("check_interval: must be greater than zero")
        if self.directory and not os.path.isdir(self.directory):
            errors.append(f"directory: {self.directory!r} is not an existing directory")
        return errors


@dataclass
class FileStorageConfig:
    directory: str = DEFAULT_DIRECTORY
    timeout: Duration = Duration(1)
    fsync: bool = False
    compaction: CompactionConfig = field(default_factory=CompactionConfig)
    create_directory: bool = False
    directory_permissions: str = "0750"
    recreate: bool = False  # move existing client files aside at start (`*.backup-<time>`)

    def validate(self) -> list[str]:
        errors = []
        if not self.directory:
            errors.append("directory: must be set")
        elif os.path.exists(self.directory) and not os.path.isdir(self.directory):
            errors.append(f"directory: {self.directory!r} exists and is not a directory")
        elif not self.create_directory and not os.path.isdir(self.directory):
            errors.append(
                f"directory: {self.directory!r} does not exist; create it or set create_directory: true"
            )
        if self.timeout < 0:
            errors.append("timeout: must not be negative")
        try:
            mode = int(self.directory_permissions, 8)
            if not 0 <= mode <= 0o7777:
                raise ValueError
        except ValueError:
            errors.append(f"directory_permissions: {self.directory_permissions!r} is not an octal mode")
        return errors

    @property
    def permissions(self) -> int:
        return int(self.directory_permissions, 8)
