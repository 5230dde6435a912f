from ....pipeline.component import Factory, Kind
from .config import DebugConfig
from .exporter import DebugExporter

FACTORY = Factory(
    type="debug",
    kind=Kind.EXPORTER,
    config_type=DebugConfig,
    create=lambda settings, config, _next=None: DebugExporter(settings, config),
    stability="development",
    description="Logs received spans: counts, one line per span, or a full dump",
)
