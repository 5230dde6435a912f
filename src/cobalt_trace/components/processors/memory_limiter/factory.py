from ....pipeline.component import Factory, Kind
from .config import MemoryLimiterConfig
from .limiter import MemoryLimiter

FACTORY = Factory(
    type="memory_limiter",
    kind=Kind.PROCESSOR,
    config_type=MemoryLimiterConfig,
    create=lambda settings, config, next_consumer: MemoryLimiter(settings, config, next_consumer),
    description="refuses data with a retryable error while memory is above the soft limit",
)
