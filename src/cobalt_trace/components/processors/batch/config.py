"""`batch` processor settings; defaults as core `processor/batchprocessor`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ....pipeline.configtypes import Duration

__all__ = ["BatchConfig"]


@dataclass
class BatchConfig:
    # a batch is sent this long after it started filling, whatever its size; 0 sends at once
    timeout: Duration = Duration(0.2)
    # spans that trigger a send (not a cap); 0 sends every consumed batch at once
    send_batch_size: int = 8192
    # larger batches are split to this many spans; 0 means no cap
    send_batch_max_size: int = 0
    # one batcher per distinct combination of these client metadata values
    metadata_keys: list[str] = field(default_factory=list)
    metadata_cardinality_limit: int = 1000

    def validate(self) -> list[str]:
        errors = []
        for name in ("send_batch_size", "send_batch_max_size", "metadata_cardinality_limit"):
            if getattr(self, name) < 0:
                errors.append(f"{name}: must be 0 or greater, got {getattr(self, name)}")
        if 0 < self.send_batch_max_size < self.send_batch_size:
            errors.append(
                f"send_batch_max_size: must be greater or equal to send_batch_size "
                f"({self.send_batch_max_size} < {self.send_batch_size})"
            )
        seen = set()
        for key in self.metadata_keys:
            lowered = key.lower()
            if lowered in seen:
                errors.append(f"metadata_keys: duplicate entry {lowered!r} (case-insensitive)")
            seen.add(lowered)
        if self.timeout < 0:
            errors.append("timeout: must be greater or equal to 0")
        return errors
