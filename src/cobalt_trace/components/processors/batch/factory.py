from ....pipeline.component import Factory, Kind
from .config import BatchConfig
from .processor import BatchProcessor

__all__ = ["FACTORY"]

FACTORY = Factory(
    type="batch",
    kind=Kind.PROCESSOR,
    config_type=BatchConfig,
    create=lambda settings, config, next_consumer: BatchProcessor(settings, config, next_consumer),
    description="batches spans by size and time, splits to send_batch_max_size, per metadata values",
)
