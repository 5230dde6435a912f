from ....pipeline.component import Factory, Kind
from .config import FileConfig
from .exporter import FileExporter

FACTORY = Factory(
    type="file",
    kind=Kind.EXPORTER,
    config_type=FileConfig,
    create=lambda settings, config, _next=None: FileExporter(settings, config),
    stability="alpha",
    description="Writes spans to a file as OTLP/JSON lines or length-prefixed protobuf",
)
