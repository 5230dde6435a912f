from ....pipeline.component import Factory, Kind
from .config import AttributesConfig
from .processor import AttributesProcessor

__all__ = ["FACTORY"]

FACTORY = Factory(
    type="attributes",
    kind=Kind.PROCESSOR,
    config_type=AttributesConfig,
    create=lambda settings, config, next_consumer: AttributesProcessor(settings, config, next_consumer),
    description="insert/update/upsert/delete/hash/extract/convert span attributes, with include/exclude",
)
