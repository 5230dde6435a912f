from ....pipeline.component import Factory, Kind
from .config import HealthCheckConfig
from .extension import HealthCheck

FACTORY = Factory(
    type="health_check",
    kind=Kind.EXTENSION,
    config_type=HealthCheckConfig,
    create=lambda settings, config, _next=None: HealthCheck(settings, config),
    description="HTTP health endpoint for liveness/readiness probes",
)
