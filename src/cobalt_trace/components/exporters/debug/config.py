"""`debug` exporter settings; keys and defaults as upstream `exporter/debugexporter`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DebugConfig"]


@dataclass
class DebugConfig:
    verbosity: Literal["basic", "normal", "detailed"] = "basic"
    sampling_initial: int = 2
    sampling_thereafter: int = 1
    use_internal_logger: bool = True

    def validate(self) -> list[str]:
        errors = []
        if self.sampling_initial < 0:
            errors.append("sampling_initial: must not be negative")
        if self.sampling_thereafter < 1:
            errors.append("sampling_thereafter: must be at least 1")
        return errors
