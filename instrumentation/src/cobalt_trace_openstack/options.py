"""The ``[cobalt_trace]`` oslo.config group; ``list_opts()`` feeds oslo-config-generator."""

from __future__ import annotations

from oslo_config import cfg

__all__ = ["GROUP", "OPTS", "list_opts", "register_opts"]

GROUP = "cobalt_trace"

# Defaults of None mean "not set here": the OTEL_* environment variable or the built-in default
# applies (see settings.resolve).
OPTS = [
    cfg.BoolOpt("enabled", default=True, help="Export spans. False makes every hook a no-op."),
    cfg.StrOpt(
        "endpoint",
        help="OTLP endpoint of the local gateway, e.g. http://127.0.0.1:4317 (gRPC) or "
        "http://127.0.0.1:4318/v1/traces (HTTP). Default: OTEL_EXPORTER_OTLP_* or localhost.",
    ),
    cfg.StrOpt(
        "protocol",
        choices=[("grpc", "OTLP/gRPC"), ("http/protobuf", "OTLP/HTTP with protobuf")],
        help="OTLP transport. Default: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or grpc.",
    ),
    cfg.BoolOpt("insecure", default=True, help="Plain-text gRPC (the gateway is on the same node)."),
    cfg.StrOpt("cluster", help="Cluster name, recorded as the resource attribute 'cluster'."),
    cfg.StrOpt("region", help="Recorded as the resource attribute 'cloud.region'."),
    cfg.FloatOpt(
        "sample_ratio",
        min=0.0,
        max=1.0,
        help="Head sampling ratio for new traces (parent-based). Default: OTEL_TRACES_SAMPLER or 1.0.",
    ),
    cfg.IntOpt(
        "max_queue_size",
        min=1,
        help="Spans held while the gateway is unreachable; more are dropped and counted. "
        "Default: OTEL_BSP_MAX_QUEUE_SIZE or 2048.",
    ),
    cfg.BoolOpt("instrument_requests", default=True, help="Trace outgoing HTTP (requests, keystoneauth)."),
    cfg.BoolOpt("instrument_messaging", default=True, help="Trace oslo.messaging RPC and notifications."),
    cfg.BoolOpt(
        "instrument_periodic_tasks",
        default=True,
        help="Start a root span for each oslo.service periodic task.",
    ),
    cfg.ListOpt(
        "capture_headers",
        default=[],
        help="Request headers recorded as http.request.header.<name>. Credential headers "
        "(X-Auth-Token, X-Subject-Token, X-Service-Token, Authorization, Cookie, ...) are always redacted.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Entry point ``oslo.config.opts`` = ``cobalt_trace_openstack``."""
    return [(GROUP, list(OPTS))]
