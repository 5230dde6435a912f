"""Measures the process's resident memory every `check_interval` and refuses data above the soft
limit (hard limit − spike) with a retryable error carrying a retry delay, so the otlp receiver
answers UNAVAILABLE + RetryInfo / 503 + Retry-After and well-behaved clients back off.

Python has no heap-size statistic like Go's, so the measure is RSS; above the hard limit the
limiter also runs the garbage collector and returns freed heap pages to the system.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import math
import os
import time
from pathlib import Path

from ....pipeline.component import Component
from ....pipeline.errors import DataRefusedError

__all__ = ["MemoryLimiter", "process_rss", "total_memory"]

_MIB = 1 << 20


def process_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def total_memory() -> int:
    """The cgroup's memory limit when there is one, else the machine's memory."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (1 << 60):
            return int(text)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


class MemoryLimiter(Component):
    def __init__(self, settings, config, next_consumer, *, measure=process_rss, clock=time.monotonic):
        super().__init__(settings, config)
        self.next = next_consumer
        self.mutates_data = getattr(next_consumer, "mutates_data", False)
        self._measure = measure
        self._clock = clock
        cfg = config
        if cfg.limit_mib:
            self.hard_limit = cfg.limit_mib * _MIB
            spike = cfg.spike_limit_mib * _MIB if cfg.spike_limit_mib else self.hard_limit // 5
        else:
            total = total_memory()
            self.hard_limit = total * cfg.limit_percentage // 100
            spike = total * (cfg.spike_limit_percentage or cfg.limit_percentage // 5) // 100
        self.soft_limit = self.hard_limit - spike
        self.refusing = False
        self.last_usage = 0
        self._last_gc = -math.inf
        self._task: asyncio.Task | None = None
        self._trim = _malloc_trim()
        metrics = settings.telemetry.metrics
        self._refused = metrics.counter(
            "otelcol_processor_refused_spans", "Number of spans refused by the processor"
        ).labels(processor=str(settings.id))
        self._log = settings.telemetry.child_logger(str(settings.id))

    async def start(self, host) -> None:
        self.check()
        self._task = asyncio.create_task(self._loop(), name=f"{self.id} memory check")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.check_interval)
            self.check()

    def check(self) -> None:
        usage = self._measure()
        if usage >= self.soft_limit:
            hard = usage >= self.hard_limit
            min_gap = (
                self.config.min_gc_interval_when_hard_limited
                if hard
                else self.config.min_gc_interval_when_soft_limited
            )
            if self._clock() - self._last_gc >= min_gap:
                gc.collect()
                if self._trim is not None:
                    self._trim(0)
                self._last_gc = self._clock()
                usage = self._measure()
        was = self.refusing
        self.refusing = usage >= self.soft_limit
        self.last_usage = usage
        if self.refusing != was:
            state = "above" if self.refusing else "back below"
            self._log.warning(
                "Memory usage %s the soft limit: %d MiB (soft %d MiB, hard %d MiB)",
                state,
                usage // _MIB,
                self.soft_limit // _MIB,
                self.hard_limit // _MIB,
            )

    async def consume(self, batch) -> None:
        if self.refusing:
            self._refused.add(batch.span_count)
            raise DataRefusedError(
                "data refused due to high memory usage",
                retry_after=max(1.0, float(self.config.check_interval)),
            )
        await self.next.consume(batch)

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
