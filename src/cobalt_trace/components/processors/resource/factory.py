from ....pipeline.component import Factory, Kind
from .config import ResourceConfig
from .processor import ResourceProcessor

__all__ = ["FACTORY"]

FACTORY = Factory(
    type="resource",
    kind=Kind.PROCESSOR,
    config_type=ResourceConfig,
    create=lambda settings, config, next_consumer: ResourceProcessor(settings, config, next_consumer),
    description="insert/update/upsert/delete/hash/extract/convert resource attributes",
)
