from ....pipeline.component import Factory, Kind
from .config import OtlpReceiverConfig
from .receiver import OtlpReceiver

FACTORY = Factory(
    type="otlp",
    kind=Kind.RECEIVER,
    config_type=OtlpReceiverConfig,
    create=lambda settings, config, next_consumer: OtlpReceiver(settings, config, next_consumer),
    description="OTLP traces over gRPC and HTTP (protobuf and JSON)",
)
