"""Runs one collector process: config → service → pipelines, self-metrics, signals.

SIGTERM/SIGINT: receivers stop first (no new data), processors flush downstream, exporters drain
within `SHUTDOWN_GRACE` seconds, then the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from ..components import builtin_registry
from ..pipeline.config import build_config
from ..pipeline.confmap import load_config
from ..pipeline.errors import ConfigError
from ..pipeline.service import Service, StartError
from ..pipeline.telemetry import Telemetry
from .selfmetrics import SelfMetricsServer, register_process_metrics
from .tuning import freeze_startup_objects, tune_process

__all__ = ["run_collector", "validate_config", "Collector", "SHUTDOWN_GRACE"]

SHUTDOWN_GRACE = 30.0
log = logging.getLogger("cobalt_trace.collector")


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s\t%(levelname)s\t%(name)s\t%(message)s",
        stream=sys.stderr,
    )


def _apply_log_settings(telemetry) -> None:
    """`service::telemetry::logs`: level (dpanic/panic/fatal count as error) and json encoding."""
    logging.getLogger().setLevel(_LEVELS.get(telemetry.log_level, logging.ERROR))
    if telemetry.log_encoding == "json":
        import json

        class _JSON(logging.Formatter):
            def format(self, record):
                return json.dumps(
                    {
                        "ts": record.created,
                        "level": record.levelname.lower(),
                        "logger": record.name,
                        "msg": record.getMessage(),
                    }
                )

        for handler in logging.getLogger().handlers:
            handler.setFormatter(_JSON())


def validate_config(paths: list[str]) -> list[str]:
    """Every error of the config at `paths`, each with its key path; [] when valid."""
    registry = builtin_registry()
    try:
        config = build_config(load_config(paths), registry)
        Service(config, registry, Telemetry()).dry_run()
    except ConfigError as exc:
        return exc.errors
    return []


class Collector:
    """A running collector; usable in-process by tests and the demo."""

    def __init__(self, paths: list[str]):
        self.registry = builtin_registry()
        self.config = build_config(load_config(paths), self.registry)
        self.telemetry = Telemetry()
        register_process_metrics(self.telemetry.metrics)
        self.service = Service(self.config, self.registry, self.telemetry)
        self.metrics_server: SelfMetricsServer | None = None

    async def start(self) -> None:
        await self.service.start()
        endpoint = self.config.service.telemetry.metrics_endpoint
        if endpoint is not None:
            host, port = endpoint
            self.metrics_server = SelfMetricsServer(self.telemetry.metrics, host, port)
            await self.metrics_server.start()

    async def shutdown(self) -> None:
        try:
            await asyncio.wait_for(self.service.shutdown(), SHUTDOWN_GRACE)
        except TimeoutError:
            log.error("shutdown did not finish within %.0fs; exiting anyway", SHUTDOWN_GRACE)
        if self.metrics_server is not None:
            await self.metrics_server.stop()


async def _serve(paths: list[str]) -> int:
    collector = Collector(paths)
    _apply_log_settings(collector.config.service.telemetry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await collector.start()
    freeze_startup_objects()
    log.info("Everything is ready. Begin running and processing data.")
    await stop.wait()
    log.info("Received signal, shutting down")
    await collector.shutdown()
    log.info("Shutdown complete.")
    return 0


def run_collector(paths: list[str]) -> int:
    _configure_logging()
    tune_process()
    try:
        return asyncio.run(_serve(paths))
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except StartError as exc:
        print(f"Error: cannot start the collector: {exc}", file=sys.stderr)
        return 1
