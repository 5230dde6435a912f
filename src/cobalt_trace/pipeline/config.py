"""The collector's top-level configuration, decoded and validated against the registry.

`build_config` reports every problem at once, each with its key path joined by `::`, e.g.
`processors::batch/2::timeout: time: invalid duration "xs"` or
`service::pipelines::traces::exporters: references exporter "otlp/missing" which is not configured`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .component import ComponentID, Factory, Kind
from .configtypes import decode
from .errors import ConfigError
from .registry import Registry

__all__ = [
    "ComponentConfig",
    "PipelineConfig",
    "TelemetryConfig",
    "ServiceConfig",
    "CollectorConfig",
    "build_config",
]

_TOP_LEVEL = ("receivers", "processors", "exporters", "extensions", "connectors", "service")
_KINDS = (Kind.RECEIVER, Kind.PROCESSOR, Kind.EXPORTER, Kind.EXTENSION)
_METRIC_LEVELS = ("none", "basic", "normal", "detailed")
_LOG_LEVELS = ("debug", "info", "warn", "warning", "error", "dpanic", "panic", "fatal")


@dataclass
class ComponentConfig:
    id: ComponentID
    factory: Factory
    config: Any


@dataclass
class PipelineConfig:
    id: str
    receivers: list[ComponentID]
    processors: list[ComponentID]
    exporters: list[ComponentID]


@dataclass
class TelemetryConfig:
    log_level: str = "info"
    log_encoding: str = "console"
    metrics_level: str = "normal"
    metrics_endpoint: tuple[str, int] | None = ("localhost", 8888)
    resource: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServiceConfig:
    extensions: list[ComponentID] = field(default_factory=list)
    pipelines: dict[str, PipelineConfig] = field(default_factory=dict)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)


@dataclass
class CollectorConfig:
    components: dict[Kind, dict[ComponentID, ComponentConfig]]
    service: ServiceConfig

    def get(self, kind: Kind, cid: ComponentID) -> ComponentConfig:
        return self.components[kind][cid]


def _is_map(value: Any, path: str, errors: list[str]) -> bool:
    if value is None or isinstance(value, dict):
        return True
    errors.append(f"{path}: expected a mapping, got {type(value).__name__} {value!r}")
    return False


def _unknown_keys(raw: dict, allowed: tuple[str, ...], path: str, errors: list[str]) -> None:
    extra = [str(k) for k in raw if k not in allowed]
    if extra:
        errors.append(f"{path}: has invalid keys: {', '.join(extra)}")


def _components(
    kind: Kind, raw: Any, registry: Registry, errors: list[str], rejected: set[ComponentID]
) -> dict[ComponentID, ComponentConfig]:
    """Decode one section; ids written there with an unknown type land in `rejected`, so that
    pipelines naming them do not also report "not configured"."""
    section = kind.value
    out: dict[ComponentID, ComponentConfig] = {}
    if not _is_map(raw, section, errors):
        return out
    for key, value in (raw or {}).items():
        path = f"{section}::{key}"
        try:
            cid = ComponentID.parse(str(key))
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
            continue
        factory = registry.get(kind, cid.type)
        if factory is None:
            known = ", ".join(registry.types(kind)) or "none"
            errors.append(f'{path}: unknown type "{cid.type}" (known: {known})')
            rejected.add(cid)
            continue
        config, errs = decode(factory.config_type, value, path)
        errors.extend(errs)
        out[cid] = ComponentConfig(cid, factory, config)
    return out


def _id_list(raw: Any, path: str, errors: list[str]) -> list[ComponentID]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"{path}: expected a list of component ids, got {type(raw).__name__} {raw!r}")
        return []
    ids = []
    for i, item in enumerate(raw):
        try:
            ids.append(ComponentID.parse(str(item)))
        except ValueError as exc:
            errors.append(f"{path}[{i}]: {exc}")
    return ids


# -- service::telemetry, as upstream's otelconftelemetry reads it ---------------------------------
@dataclass
class _LogsSection:
    level: str = "info"
    encoding: str = "console"
    development: bool = False
    disable_caller: bool = False
    disable_stacktrace: bool = False
    sampling: Any = None
    output_paths: list[str] = field(default_factory=lambda: ["stderr"])
    error_output_paths: list[str] = field(default_factory=lambda: ["stderr"])
    initial_fields: dict[str, Any] = field(default_factory=dict)
    processors: Any = None

    def validate(self) -> list[str]:
        errors = []
        if self.level.lower() not in _LOG_LEVELS:
            errors.append(f"level: unknown level {self.level!r}; expected one of {', '.join(_LOG_LEVELS)}")
        if self.encoding not in ("console", "json"):
            errors.append(f"encoding: unsupported {self.encoding!r}; expected console or json")
        return errors


@dataclass
class _PrometheusExporter:
    host: str = "localhost"
    port: int = 8888
    without_type_suffix: bool = False
    without_units: bool = False
    without_scope_info: bool = False
    with_resource_constant_labels: Any = None

    def validate(self) -> list[str]:
        return [] if 0 <= self.port <= 65535 else [f"port: {self.port} is not a port number (0-65535)"]


@dataclass
class _PullExporter:
    prometheus: _PrometheusExporter | None = None

    def validate(self) -> list[str]:
        return (
            [] if self.prometheus is not None else ["prometheus: a pull reader needs the prometheus exporter"]
        )


@dataclass
class _PullReader:
    exporter: _PullExporter = field(default_factory=_PullExporter)


@dataclass
class _Reader:
    pull: _PullReader | None = None
    periodic: Any = None

    def validate(self) -> list[str]:
        if self.periodic is not None:
            return ["periodic: pushing self-metrics is not supported; use a pull reader with prometheus"]
        return [] if self.pull is not None else ["pull: a reader must be pull (with the prometheus exporter)"]


@dataclass
class _MetricsSection:
    level: str = "normal"
    address: str = ""  # the deprecated form of a single prometheus reader
    readers: list[_Reader] = field(default_factory=list)
    views: Any = None

    def validate(self) -> list[str]:
        errors = []
        if self.level.lower() not in _METRIC_LEVELS:
            errors.append(f"level: unknown level {self.level!r}; expected one of {', '.join(_METRIC_LEVELS)}")
        if self.address and _host_port(self.address) is None:
            errors.append(f"address: expected host:port, got {self.address!r}")
        if len(self.readers) > 1:
            errors.append("readers: only one prometheus pull reader is supported")
        return errors


@dataclass
class _TelemetrySection:
    logs: _LogsSection = field(default_factory=_LogsSection)
    metrics: _MetricsSection = field(default_factory=_MetricsSection)
    traces: Any = None  # accepted for compatibility; the collector does not trace itself
    resource: dict[str, Any] = field(default_factory=dict)


def _host_port(text: str) -> tuple[str, int] | None:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    return (host.strip("[]") or "0.0.0.0", int(port))  # ":8888" binds every interface


def _telemetry(raw: Any, errors: list[str]) -> TelemetryConfig:
    section, errs = decode(_TelemetrySection, raw, "service::telemetry")
    errors.extend(errs)
    level = section.logs.level.lower()
    metrics = section.metrics
    cfg = TelemetryConfig(
        log_level="warning" if level == "warn" else level,
        log_encoding=section.logs.encoding,
        metrics_level=metrics.level.lower(),
        resource=dict(section.resource),
    )
    if cfg.metrics_level == "none":
        cfg.metrics_endpoint = None
    elif metrics.readers and metrics.readers[0].pull and metrics.readers[0].pull.exporter.prometheus:
        prom = metrics.readers[0].pull.exporter.prometheus
        cfg.metrics_endpoint = (prom.host, prom.port)
    elif metrics.address:
        cfg.metrics_endpoint = _host_port(metrics.address)
    return cfg


def _pipeline_id(key: Any, path: str, errors: list[str]) -> str | None:
    try:
        pid = ComponentID.parse(str(key))
    except ValueError as exc:
        errors.append(f"{path}: invalid pipeline id: {exc}")
        return None
    if pid.type in ("metrics", "logs", "profiles"):
        errors.append(f"{path}: only traces pipelines are supported (cobalt-trace is a tracing system)")
        return None
    if pid.type != "traces":
        errors.append(f'{path}: unknown signal "{pid.type}"; expected traces or traces/<name>')
        return None
    return str(pid)


def _pipelines(
    raw: Any, comps: dict[Kind, dict], rejected: dict[Kind, set], errors: list[str], required: bool = True
) -> dict[str, PipelineConfig]:
    out: dict[str, PipelineConfig] = {}
    path = "service::pipelines"
    if not _is_map(raw, path, errors):
        return out
    if not raw:
        if required:
            errors.append(f"{path}: service must have at least one pipeline")
        return out
    for key, spec in raw.items():
        ppath = f"{path}::{key}"
        pid = _pipeline_id(key, ppath, errors)
        if pid is None or not _is_map(spec, ppath, errors):
            continue
        spec = spec or {}
        _unknown_keys(spec, ("receivers", "processors", "exporters"), ppath, errors)
        lists = {}
        for section, kind in (
            ("receivers", Kind.RECEIVER),
            ("processors", Kind.PROCESSOR),
            ("exporters", Kind.EXPORTER),
        ):
            ids: list[ComponentID] = []
            for cid in _id_list(spec.get(section), f"{ppath}::{section}", errors):
                if cid in ids:
                    # A processor instance is a link of the chain: twice would make a loop.
                    # A receiver or exporter listed twice is still one edge, as upstream treats it.
                    if kind is Kind.PROCESSOR:
                        errors.append(f'{ppath}::{section}: references processor "{cid}" multiple times')
                    continue
                ids.append(cid)
                if cid not in comps[kind] and cid not in rejected[kind]:
                    errors.append(
                        f'{ppath}::{section}: references {kind.singular} "{cid}" which is not configured'
                    )
            lists[section] = ids
        if not lists["receivers"]:
            errors.append(f"{ppath}::receivers: must have at least one receiver")
        if not lists["exporters"]:
            errors.append(f"{ppath}::exporters: must have at least one exporter")
        out[pid] = PipelineConfig(pid, lists["receivers"], lists["processors"], lists["exporters"])
    return out


def build_config(raw: dict, registry: Registry, require_pipelines: bool = True) -> CollectorConfig:
    """`require_pipelines=False` is for processes that run only extensions (`cobalt-trace query`);
    pipelines that are present are still checked in full."""
    errors: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError(["<root>: the configuration must be a mapping"])
    _unknown_keys(raw, _TOP_LEVEL, "<root>", errors)
    rejected: dict[Kind, set[ComponentID]] = {kind: set() for kind in _KINDS}
    comps = {
        kind: _components(kind, raw.get(kind.value), registry, errors, rejected[kind]) for kind in _KINDS
    }
    if raw.get("connectors"):
        errors.append("connectors: connectors are not supported")
    service_raw = raw.get("service")
    service = ServiceConfig()
    if service_raw is None:
        if require_pipelines:
            errors.append("service: must be configured with at least one pipeline")
    elif _is_map(service_raw, "service", errors):
        _unknown_keys(service_raw, ("extensions", "pipelines", "telemetry"), "service", errors)
        ids = _id_list(service_raw.get("extensions"), "service::extensions", errors)
        service.extensions = list(dict.fromkeys(ids))
        for cid in service.extensions:
            if cid not in comps[Kind.EXTENSION] and cid not in rejected[Kind.EXTENSION]:
                errors.append(f'service::extensions: references extension "{cid}" which is not configured')
        service.pipelines = _pipelines(
            service_raw.get("pipelines"), comps, rejected, errors, require_pipelines
        )
        service.telemetry = _telemetry(service_raw.get("telemetry"), errors)
    if errors:
        raise ConfigError(errors)
    return CollectorConfig(comps, service)
