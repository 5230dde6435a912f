"""Resolve set-up options: explicit arguments, then oslo.config ``[cobalt_trace]``, then ``OTEL_*``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["Settings", "resolve"]

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    service_name: str
    enabled: bool = True
    endpoint: str | None = None  # None: the exporter reads OTEL_EXPORTER_OTLP_* itself
    protocol: str = "grpc"
    insecure: bool = True
    cluster: str | None = None
    region: str | None = None
    sample_ratio: float | None = None  # None: the SDK reads OTEL_TRACES_SAMPLER
    max_queue_size: int | None = None  # None: the SDK reads OTEL_BSP_MAX_QUEUE_SIZE
    instrument_requests: bool = True
    instrument_messaging: bool = True
    instrument_periodic_tasks: bool = True
    capture_headers: tuple[str, ...] = field(default_factory=tuple)


def _conf_group(conf):
    if conf is None:
        return None
    from .options import GROUP, register_opts

    try:
        register_opts(conf)
    except Exception:  # already registered with the same options (DuplicateOptError only if different)
        pass
    return getattr(conf, GROUP)


def resolve(
    service_name: str,
    *,
    cluster: str | None = None,
    endpoint: str | None = None,
    conf=None,
    env: dict | None = None,
) -> Settings:
    if not service_name or not isinstance(service_name, str):
        raise ValueError(
            f"cobalt_trace_openstack.setup: service_name must be a non-empty string, got {service_name!r}"
        )
    env = os.environ if env is None else env
    group = _conf_group(conf)

    def opt(name, default=None):
        value = getattr(group, name, None) if group is not None else None
        return default if value is None else value

    enabled = bool(opt("enabled", True)) and env.get("OTEL_SDK_DISABLED", "").strip().lower() not in _TRUE
    protocol = opt("protocol") or (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
    )
    if protocol not in ("grpc", "http/protobuf"):
        raise ValueError(
            f"cobalt_trace_openstack: OTLP protocol must be 'grpc' or 'http/protobuf', got {protocol!r}"
        )
    return Settings(
        service_name=service_name,
        enabled=enabled,
        endpoint=endpoint or opt("endpoint"),
        protocol=protocol,
        insecure=bool(opt("insecure", True)),
        cluster=cluster or opt("cluster"),
        region=opt("region"),
        sample_ratio=opt("sample_ratio"),
        max_queue_size=opt("max_queue_size"),
        instrument_requests=bool(opt("instrument_requests", True)),
        instrument_messaging=bool(opt("instrument_messaging", True)),
        instrument_periodic_tasks=bool(opt("instrument_periodic_tasks", True)),
        capture_headers=tuple(opt("capture_headers", []) or ()),
    )
