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
    kind: Kind, raw: Any, registry: Registry, errors: list[str]
) -> dict[ComponentID, ComponentConfig]:
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
            errors.append(f'{path}: unknown type "{cid.type}" for {section} (valid values: {known})')
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


def _telemetry(raw: Any, errors: list[str]) -> TelemetryConfig:
    cfg = TelemetryConfig()
    path = "service::telemetry"
    if not _is_map(raw, path, errors) or not raw:
        return cfg
    _unknown_keys(raw, ("logs", "metrics", "traces", "resource"), path, errors)
    logs = raw.get("logs") or {}
    if _is_map(logs, f"{path}::logs", errors):
        level = str(logs.get("level", "info")).lower()
        if level not in _LOG_LEVELS:
            errors.append(f"{path}::logs::level: unknown level {level!r}")
        cfg.log_level = "warning" if level == "warn" else level
        cfg.log_encoding = str(logs.get("encoding", "console"))
    resource = raw.get("resource") or {}
    if _is_map(resource, f"{path}::resource", errors):
        cfg.resource = dict(resource)
    metrics = raw.get("metrics") or {}
    if not _is_map(metrics, f"{path}::metrics", errors):
        return cfg
    mpath = f"{path}::metrics"
    _unknown_keys(metrics, ("level", "address", "readers", "views"), mpath, errors)
    level = str(metrics.get("level", "normal")).lower()
    if level not in _METRIC_LEVELS:
        errors.append(f"{mpath}::level: unknown level {level!r}; expected one of {', '.join(_METRIC_LEVELS)}")
    cfg.metrics_level = level
    if level == "none":
        cfg.metrics_endpoint = None
        return cfg
    if "address" in metrics and metrics["address"]:
        cfg.metrics_endpoint = _host_port(str(metrics["address"]), f"{mpath}::address", errors)
    readers = metrics.get("readers")
    if readers:
        endpoint = _prometheus_reader(readers, f"{mpath}::readers", errors)
        if endpoint is not None:
            cfg.metrics_endpoint = endpoint
    return cfg


def _host_port(text: str, path: str, errors: list[str]) -> tuple[str, int] | None:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        errors.append(f"{path}: expected host:port, got {text!r}")
        return None
    return (host.strip("[]") or "0.0.0.0", int(port))


def _prometheus_reader(readers: Any, path: str, errors: list[str]) -> tuple[str, int] | None:
    if not isinstance(readers, list):
        errors.append(f"{path}: expected a list")
        return None
    found = None
    for i, reader in enumerate(readers):
        rpath = f"{path}[{i}]"
        if not isinstance(reader, dict) or set(reader) - {"pull", "periodic"}:
            errors.append(f"{rpath}: expected a 'pull' or 'periodic' reader")
            continue
        if "periodic" in reader:
            errors.append(
                f"{rpath}::periodic: pushing self-metrics is not supported; use a pull/prometheus reader"
            )
            continue
        exporter = ((reader.get("pull") or {}).get("exporter")) or {}
        prom = exporter.get("prometheus") if isinstance(exporter, dict) else None
        if not isinstance(prom, dict):
            errors.append(f"{rpath}::pull::exporter: only the prometheus exporter is supported")
            continue
        port = prom.get("port", 8888)
        if not isinstance(port, int):
            errors.append(f"{rpath}::pull::exporter::prometheus::port: expected a number, got {port!r}")
            continue
        found = (str(prom.get("host", "localhost")), port)
    return found


def _pipelines(raw: Any, comps: dict[Kind, dict], errors: list[str]) -> dict[str, PipelineConfig]:
    out: dict[str, PipelineConfig] = {}
    path = "service::pipelines"
    if not _is_map(raw, path, errors):
        return out
    if not raw:
        errors.append(f"{path}: service must have at least one pipeline")
        return out
    for key, spec in raw.items():
        ppath = f"{path}::{key}"
        signal, _, name = str(key).partition("/")
        if signal in ("metrics", "logs", "profiles"):
            errors.append(f"{ppath}: only traces pipelines are supported (cobalt-trace is a tracing system)")
            continue
        if signal != "traces" or (_ and not name):
            errors.append(f"{ppath}: invalid pipeline id; expected traces or traces/<name>")
            continue
        if not _is_map(spec, ppath, errors):
            continue
        spec = spec or {}
        _unknown_keys(spec, ("receivers", "processors", "exporters"), ppath, errors)
        lists = {}
        for section, kind in (
            ("receivers", Kind.RECEIVER),
            ("processors", Kind.PROCESSOR),
            ("exporters", Kind.EXPORTER),
        ):
            ids = _id_list(spec.get(section), f"{ppath}::{section}", errors)
            seen = set()
            for cid in ids:
                if cid in seen:
                    errors.append(f'{ppath}::{section}: {kind.singular} "{cid}" is listed more than once')
                seen.add(cid)
                if cid not in comps[kind]:
                    errors.append(
                        f'{ppath}::{section}: references {kind.singular} "{cid}" which is not configured'
                    )
            lists[section] = ids
        if not lists["receivers"]:
            errors.append(f"{ppath}::receivers: must have at least one receiver")
        if not lists["exporters"]:
            errors.append(f"{ppath}::exporters: must have at least one exporter")
        out[str(key)] = PipelineConfig(str(key), lists["receivers"], lists["processors"], lists["exporters"])
    return out


def build_config(raw: dict, registry: Registry) -> CollectorConfig:
    errors: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError(["<root>: the configuration must be a mapping"])
    _unknown_keys(raw, _TOP_LEVEL, "<root>", errors)
    comps = {kind: _components(kind, raw.get(kind.value), registry, errors) for kind in _KINDS}
    if raw.get("connectors"):
        errors.append("connectors: connectors are not supported")
    service_raw = raw.get("service")
    service = ServiceConfig()
    if service_raw is None:
        errors.append("service: must be configured with at least one pipeline")
    elif _is_map(service_raw, "service", errors):
        _unknown_keys(service_raw, ("extensions", "pipelines", "telemetry"), "service", errors)
        service.extensions = _id_list(service_raw.get("extensions"), "service::extensions", errors)
        for cid in service.extensions:
            if cid not in comps[Kind.EXTENSION]:
                errors.append(f'service::extensions: references extension "{cid}" which is not configured')
        service.pipelines = _pipelines(service_raw.get("pipelines"), comps, errors)
        service.telemetry = _telemetry(service_raw.get("telemetry"), errors)
    if errors:
        raise ConfigError(errors)
    return CollectorConfig(comps, service)
