from ....pipeline.component import Factory, Kind
from .config import TraceQueryConfig
from .extension import TraceQueryExtension

FACTORY = Factory(
    type="trace_query",
    kind=Kind.EXTENSION,
    config_type=TraceQueryConfig,
    create=lambda settings, config, _next=None: TraceQueryExtension(settings, config),
    description="Tempo- and Jaeger-compatible query API over a trace_store",
)
