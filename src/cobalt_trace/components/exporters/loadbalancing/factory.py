from ....pipeline.component import Factory, Kind
from ....pipeline.errors import ConfigError
from .config import LoadBalancingConfig
from .exporter import LoadBalancingExporter


def _create(settings, config, _next=None):
    registry = settings.extra.get("registry")
    otlp = registry.get(Kind.EXPORTER, "otlp_grpc") if registry is not None else None
    if otlp is None:
        raise ConfigError([f"exporters::{settings.id}: the otlp exporter is not available to build backends"])
    return LoadBalancingExporter(settings, config, otlp)


FACTORY = Factory(
    type="loadbalancing",
    kind=Kind.EXPORTER,
    config_type=LoadBalancingConfig,
    create=_create,
    description="routes spans by trace id or service over a consistent-hash ring of OTLP backends",
)
