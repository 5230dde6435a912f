"""`file` exporter settings; keys and defaults as upstream contrib `exporter/fileexporter`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ....pipeline.configtypes import Duration

__all__ = ["RotationConfig", "GroupByConfig", "FileConfig"]


@dataclass
class RotationConfig:
    max_megabytes: int = 100
    max_days: int = 0
    max_backups: int = 100
    localtime: bool = False

    def validate(self) -> list[str]:
        errors = []
        for key in ("max_megabytes", "max_days", "max_backups"):
            if getattr(self, key) < 0:
                errors.append(f"{key}: must not be negative")
        return errors


@dataclass
class GroupByConfig:
    enabled: bool = False
    resource_attribute: str = "fileexporter.path_segment"
    max_open_files: int = 100


@dataclass
class FileConfig:
    path: str = ""
    format: Literal["json", "proto"] = "json"
    append: bool = False
    rotation: RotationConfig | None = None
    flush_interval: Duration = Duration(1)
    compression: Literal["", "zstd"] = ""
    group_by: GroupByConfig = field(default_factory=GroupByConfig)

    def validate(self) -> list[str]:
        errors = []
        if not self.path:
            errors.append("path: a file path is required")
        if self.append and self.compression:
            errors.append("append: append and compression enabled at the same time is not supported")
        if self.append and self.rotation is not None:
            errors.append("append: append and rotation enabled at the same time is not supported")
        if self.flush_interval < 0:
            errors.append("flush_interval: must not be negative")
        if self.group_by.enabled:
            errors.append("group_by: grouping output files by resource attribute is not supported yet")
        return errors  # rotation validates itself (configtypes.decode)
