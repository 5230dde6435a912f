from ....pipeline.component import Factory, Kind
from .config import TraceStoreConfig
from .extension import TraceStoreExtension

FACTORY = Factory(
    type="trace_store",
    kind=Kind.EXTENSION,
    config_type=TraceStoreConfig,
    create=lambda settings, config, _next=None: TraceStoreExtension(settings, config),
    description="Trace storage (chDB embedded or ClickHouse) in the otel_traces schema",
)
