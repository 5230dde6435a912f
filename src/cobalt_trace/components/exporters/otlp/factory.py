from ....pipeline.component import Factory, Kind
from .config import OTLPGrpcConfig
from .exporter import OTLPGrpcExporter

FACTORY = Factory(
    type="otlp_grpc",
    aliases=("otlp",),
    kind=Kind.EXPORTER,
    config_type=OTLPGrpcConfig,
    create=lambda settings, config, _next=None: OTLPGrpcExporter(settings, config),
    stability="beta",
    description="Sends spans with OTLP over gRPC, forwarding request bytes unparsed",
)
