from ....pipeline.component import Factory, Kind
from .config import FileStorageConfig
from .extension import FileStorage

FACTORY = Factory(
    type="file_storage",
    kind=Kind.EXTENSION,
    config_type=FileStorageConfig,
    create=lambda settings, config, _next=None: FileStorage(settings, config),
    description="durable per-component storage in local files (persistent sending queues)",
)
