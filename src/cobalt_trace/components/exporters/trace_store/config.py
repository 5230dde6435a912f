"""`trace_store` exporter settings; defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from ....pipeline.configtypes import Duration
from ....pipeline.exporterhelper import QueueConfig, RetryConfig

__all__ = ["TraceStoreExporterConfig"]


@dataclass
class TraceStoreExporterConfig:
    storage: str = "trace_store"  # id of the trace_store extension
    # one attempt = wait for the group-commit insert holding our spans (flush_interval + insert)
    timeout: Duration = Duration(30)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)
    sending_queue: QueueConfig = field(default_factory=QueueConfig)

    def validate(self) -> list[str]:
        errors = []
        if not self.storage:
            errors.append("storage: name the trace_store extension to write to")
        if self.timeout < 0:
            errors.append("timeout: must not be negative")
        # retry_on_failure and sending_queue validate themselves (configtypes.decode)
        return errors
