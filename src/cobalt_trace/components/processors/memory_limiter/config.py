"""`memory_limiter` settings; keys and rules as the collector's `memorylimiterprocessor`."""

from dataclasses import dataclass

from ....pipeline.configtypes import Duration

__all__ = ["MemoryLimiterConfig"]


@dataclass
class MemoryLimiterConfig:
    check_interval: Duration = Duration(0)
    limit_mib: int = 0
    spike_limit_mib: int = 0  # default: 20% of the limit
    limit_percentage: int = 0
    spike_limit_percentage: int = 0
    min_gc_interval_when_soft_limited: Duration = Duration(10)
    min_gc_interval_when_hard_limited: Duration = Duration(0)

    def validate(self) -> list[str]:
        errors = []
        if self.check_interval <= 0:
            errors.append("check_interval: must be greater than zero")
        if self.limit_mib < 0 or self.spike_limit_mib < 0:
            errors.append("limit_mib: limits must not be negative")
        if self.limit_mib == 0 and self.limit_percentage == 0:
            errors.append("limit_mib: one of limit_mib or limit_percentage must be set")
        if self.limit_mib and self.spike_limit_mib >= self.limit_mib:
            errors.append("spike_limit_mib: must be smaller than limit_mib")
        if not self.limit_mib and self.limit_percentage:
            if not 0 < self.limit_percentage <= 100:
                errors.append("limit_percentage: must be between 1 and 100")
            if self.spike_limit_percentage >= self.limit_percentage:
                errors.append("spike_limit_percentage: must be smaller than limit_percentage")
        return errors
