"""`loadbalancing` settings, as contrib's `exporter/loadbalancingexporter` (traces only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ....pipeline.configtypes import Duration

__all__ = ["LoadBalancingConfig", "ResolverConfig", "StaticResolver", "DNSResolver", "Protocol"]


@dataclass
class StaticResolver:
    hostnames: list[str] = field(default_factory=list)


@dataclass
class DNSResolver:
    hostname: str = ""
    port: int = 4317
    interval: Duration = Duration(5)
    timeout: Duration = Duration(1)


@dataclass
class ResolverConfig:
    static: StaticResolver | None = None
    dns: DNSResolver | None = None
    k8s: Any = None
    aws_cloud_map: Any = None

    def validate(self) -> list[str]:
        if self.k8s is not None or self.aws_cloud_map is not None:
            return ["k8s: only the static and dns resolvers are supported; use dns over a headless Service"]
        given = [r for r in (self.static, self.dns) if r is not None]
        if not given:
            return ["static: no resolver configured: set static or dns"]
        if len(given) > 1:
            return ["static: set only one resolver"]
        if self.static is not None and not self.static.hostnames:
            return ["static::hostnames: must list at least one backend"]
        if self.dns is not None:
            if not self.dns.hostname:
                return ["dns::hostname: must be set"]
            if self.dns.interval <= 0:
                return ["dns::interval: must be positive"]
        return []


@dataclass
class Protocol:
    # The `otlp` exporter's own settings (less `endpoint`); decoded with that exporter's config
    # type when the exporter is created, so errors carry its key paths.
    otlp: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadBalancingConfig:
    routing_key: Literal["traceID", "service"] = "traceID"
    protocol: Protocol = field(default_factory=Protocol)
    resolver: ResolverConfig = field(default_factory=ResolverConfig)
    timeout: Duration = Duration(0)
    retry_on_failure: Any = None
    sending_queue: Any = None

    def validate(self) -> list[str]:
        errors = []  # the resolver validates itself (configtypes.decode)
        if "endpoint" in self.protocol.otlp:
            errors.append("protocol::otlp::endpoint: is set per backend by the resolver; remove it")
        return errors
