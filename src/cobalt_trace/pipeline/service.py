"""Builds the component graph from a `CollectorConfig` and runs it.

    receiver ─► FanOut(pipelines) ─► processor ─► ... ─► FanOut(exporters)

Instances: one per exporter id (shared by pipelines), one per receiver id (feeding every
pipeline that lists it), one per processor id *per pipeline*, one per extension.
Start: extensions, exporters, processors from last to first, receivers.  Shutdown is the
reverse, so receivers stop taking data first and each processor flushes into components that
are still running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .component import Component, ComponentID, CreateSettings, Kind
from .config import CollectorConfig
from .errors import ConfigError
from .fanout import fan_out
from .host import Host
from .registry import Registry
from .telemetry import Telemetry

__all__ = ["Service", "Pipeline", "StartError"]

log = logging.getLogger("cobalt_trace.service")


class StartError(RuntimeError):
    """A component failed to start; everything started before it has been shut down again."""

    def __init__(self, component_id: ComponentID, kind: Kind, cause: BaseException):
        super().__init__(f"failed to start {kind.value}::{component_id}: {cause}")
        self.component_id = component_id
        self.kind = kind


@dataclass
class Pipeline:
    id: str
    processors: list[Component] = field(default_factory=list)
    entry: object = None  # what receivers call: the first processor, or the exporters' fan-out
    mutates: bool = False  # whether anything in the pipeline changes batches in place


class Service:
    def __init__(self, config: CollectorConfig, registry: Registry, telemetry: Telemetry):
        self.config = config
        self.registry = registry
        self.telemetry = telemetry
        self.extensions: dict[ComponentID, Component] = {}
        self.exporters: dict[ComponentID, Component] = {}
        self.receivers: dict[ComponentID, Component] = {}
        self.pipelines: dict[str, Pipeline] = {}
        self.host = Host(telemetry)
        self._built = False
        self._started: list[Component] = []

    # -- building -------------------------------------------------------------------------
    def _settings(self, cid: ComponentID, kind: Kind, pipeline: str = "") -> CreateSettings:
        return CreateSettings(cid, kind, self.telemetry, pipeline, extra={"registry": self.registry})

    def _create(self, kind: Kind, cid: ComponentID, next_consumer, pipeline: str, errors: list[str]):
        cc = self.config.get(kind, cid)
        try:
            return cc.factory.create(self._settings(cid, kind, pipeline), cc.config, next_consumer)
        except ConfigError as exc:
            errors.extend(exc.errors)
        except Exception as exc:  # a factory's own validation
            errors.append(f"{kind.value}::{cid}: cannot create {kind.singular}: {exc}")
        return None

    def build(self) -> Service:
        """Create every component without starting anything (also what `validate` runs)."""
        if self._built:
            return self
        errors: list[str] = []
        svc = self.config.service
        for cid in svc.extensions:
            ext = self._create(Kind.EXTENSION, cid, None, "", errors)
            if ext is not None:
                self.extensions[cid] = ext
        exporter_ids = list(dict.fromkeys(cid for p in svc.pipelines.values() for cid in p.exporters))
        for cid in exporter_ids:  # once each, even when creating it failed
            exp = self._create(Kind.EXPORTER, cid, None, "", errors)
            if exp is not None:
                self.exporters[cid] = exp
        for p in svc.pipelines.values():
            exporters = [self.exporters[c] for c in p.exporters if c in self.exporters]
            if len(exporters) != len(p.exporters):
                continue
            pipeline = Pipeline(p.id)
            consumer = fan_out(exporters)
            mutates = any(getattr(e, "mutates_data", False) for e in exporters)
            for cid in reversed(p.processors):
                proc = self._create(Kind.PROCESSOR, cid, consumer, p.id, errors)
                if proc is None:
                    break
                pipeline.processors.insert(0, proc)
                mutates = mutates or getattr(proc, "mutates_data", False)
                consumer = proc
            pipeline.entry, pipeline.mutates = consumer, mutates
            self.pipelines[p.id] = pipeline
        receiver_ids: list[ComponentID] = []
        for p in svc.pipelines.values():
            receiver_ids += [c for c in p.receivers if c not in receiver_ids]
        for cid in receiver_ids:
            targets = [
                self.pipelines[p.id]
                for p in svc.pipelines.values()
                if cid in p.receivers and p.id in self.pipelines
            ]
            if not targets:
                continue
            entry = fan_out([t.entry for t in targets], [t.mutates for t in targets])
            rec = self._create(Kind.RECEIVER, cid, entry, ",".join(t.id for t in targets), errors)
            if rec is not None:
                self.receivers[cid] = rec
        if errors:
            raise ConfigError(errors)
        self.host.extensions = dict(self.extensions)
        self.host.local_consumers = {pid: p.entry for pid, p in self.pipelines.items()}
        self._built = True
        return self

    def dry_run(self) -> Service:
        """Build without starting (`cobalt-trace validate`); raises `ConfigError` with every
        problem the factories found."""
        return self.build()

    def _announce_local_endpoints(self) -> None:
        # Before exporters start, so a loadbalancing exporter resolving its backends at start
        # already finds the receivers of this process (they add bound ports when they start).
        for receiver in self.receivers.values():
            hook = getattr(receiver, "local_endpoints", None)
            consumer = getattr(receiver, "next_consumer", None)
            if hook is None or consumer is None:
                continue
            for key in hook() or ():
                self.host.local_endpoints.setdefault(key, consumer)

    # -- running --------------------------------------------------------------------------
    def _start_order(self) -> list[Component]:
        order: list[Component] = list(self.extensions.values()) + list(self.exporters.values())
        for p in self.pipelines.values():
            order += list(reversed(p.processors))
        order += list(self.receivers.values())
        return order

    async def start(self) -> None:
        """Start everything in dependency order; on a failure shut down what did start and raise
        `StartError` naming the component."""
        self.build()
        self._announce_local_endpoints()
        for component in self._start_order():
            try:
                await component.start(self.host)
            except Exception as exc:
                log.error("failed to start %s::%s: %s", component.settings.kind.value, component.id, exc)
                await self.shutdown()
                raise StartError(component.id, component.settings.kind, exc) from exc
            self._started.append(component)
        self.host.ready = True

    async def shutdown(self) -> list[str]:
        """Stop receivers, then each pipeline's processors first to last (each flushes into the
        next, still running), then exporters and extensions.  One component's failure does not
        stop the others; the failures are logged and returned."""
        self.host.ready = False
        started, self._started = self._started, []
        receivers = [c for c in started if c.settings.kind is Kind.RECEIVER]
        processors_by_pipeline = {
            pid: [c for c in p.processors if c in started] for pid, p in self.pipelines.items()
        }
        rest = [c for c in reversed(started) if c.settings.kind in (Kind.EXPORTER, Kind.EXTENSION)]
        order = list(reversed(receivers))
        for procs in processors_by_pipeline.values():
            order += procs  # first to last: each flushes into the next, still running
        order += rest  # exporters, then extensions
        errors = []
        for component in order:
            try:
                await component.shutdown()
            except Exception as exc:
                log.exception("error shutting down %s", component.id)
                errors.append(f"{component.settings.kind.value}::{component.id}: {exc}")
        return errors
