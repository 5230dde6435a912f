from ....pipeline.component import Factory, Kind
from .config import TraceStoreExporterConfig
from .exporter import TraceStoreExporter

FACTORY = Factory(
    type="trace_store",
    kind=Kind.EXPORTER,
    config_type=TraceStoreExporterConfig,
    create=lambda settings, config, _next=None: TraceStoreExporter(settings, config),
    description="Writes spans into the trace_store extension (group-committed inserts)",
)
