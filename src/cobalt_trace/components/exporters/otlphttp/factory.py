from ....pipeline.component import Factory, Kind
from .config import OTLPHttpConfig
from .exporter import OTLPHttpExporter

FACTORY = Factory(
    type="otlp_http",
    aliases=("otlphttp",),
    kind=Kind.EXPORTER,
    config_type=OTLPHttpConfig,
    create=lambda settings, config, _next=None: OTLPHttpExporter(settings, config),
    stability="beta",
    description="Sends spans with OTLP over HTTP (protobuf or JSON)",
)
