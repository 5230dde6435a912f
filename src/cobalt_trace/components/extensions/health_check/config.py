"""`health_check` settings; defaults as the collector's `healthcheckextension`."""

from dataclasses import dataclass, field

from ....pipeline.configtls import ServerTLS

__all__ = ["CheckCollectorPipeline", "HealthCheckConfig"]


@dataclass
class CheckCollectorPipeline:
    # Accepted for compatibility; upstream documents it as not working, so it changes nothing.
    enabled: bool = False
    interval: str = "5m"
    exporter_failure_threshold: int = 5


@dataclass
class HealthCheckConfig:
    endpoint: str = "localhost:13133"
    path: str = "/"
    response_body: dict[str, str] | None = None  # {healthy: "...", unhealthy: "..."}
    tls: ServerTLS | None = None
    check_collector_pipeline: CheckCollectorPipeline = field(default_factory=CheckCollectorPipeline)

    def validate(self) -> list[str]:
        errors = []
        if not self.path.startswith("/"):
            errors.append(f"path: must start with '/', got {self.path!r}")
        if self.response_body and set(self.response_body) - {"healthy", "unhealthy"}:
            errors.append("response_body: only 'healthy' and 'unhealthy' are allowed")
        return errors
