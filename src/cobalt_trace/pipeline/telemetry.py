"""Self-telemetry: counters, gauges and histograms rendered as Prometheus text.

Hot paths hold a bound child (`counter.labels(receiver="otlp")`) and call `add`, which is a plain
integer addition.  Metric names follow the OpenTelemetry Collector's (`otelcol_...`).
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Callable, Iterable

__all__ = ["Registry", "Counter", "Gauge", "Histogram", "Telemetry"]

LabelKey = tuple[tuple[str, str], ...]


def _key(labels: dict[str, str]) -> LabelKey:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _fmt_labels(key: LabelKey, extra: Iterable[tuple[str, str]] = ()) -> str:
    items = list(key) + list(extra)
    if not items:
        return ""
    esc = [(k, v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')) for k, v in items]
    return "{" + ",".join(f'{k}="{v}"' for k, v in esc) + "}"


def _fmt_value(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 2**53):
        return str(int(v))
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


class _Child:
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0

    def add(self, amount: float = 1) -> None:
        self.value += amount

    def set(self, value: float) -> None:
        self.value = value


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help: str):
        self.name = name
        self.help = help
        self._children: dict[LabelKey, object] = {}
        self._lock = threading.Lock()

    def _new_child(self):
        return _Child()

    def labels(self, **labels: str):
        key = _key(labels)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._children.setdefault(key, self._new_child())
        return child

    def samples(self) -> Iterable[str]:
        for key, child in sorted(self._children.items()):
            yield f"{self.name}{_fmt_labels(key)} {_fmt_value(child.value)}"

    def value(self, **labels: str) -> float:
        child = self._children.get(_key(labels))
        return 0 if child is None else child.value

    def total(self) -> float:
        return sum(c.value for c in self._children.values())


class Counter(_Metric):
    kind = "counter"

    def add(self, amount: float = 1, **labels: str) -> None:
        self.labels(**labels).add(amount)


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help: str):
        super().__init__(name, help)
        self._callbacks: dict[LabelKey, Callable[[], float]] = {}

    def set(self, value: float, **labels: str) -> None:
        self.labels(**labels).set(value)

    def set_function(self, fn: Callable[[], float], **labels: str) -> None:
        """Read the value from `fn` at scrape time (queue sizes, buffered traces)."""
        self._callbacks[_key(labels)] = fn

    def remove_function(self, **labels: str) -> None:
        self._callbacks.pop(_key(labels), None)

    def samples(self) -> Iterable[str]:
        yield from super().samples()
        for key, fn in sorted(self._callbacks.items(), key=lambda kv: kv[0]):
            try:
                yield f"{self.name}{_fmt_labels(key)} {_fmt_value(fn())}"
            except Exception:  # a scrape must never fail because one gauge did
                continue

    def value(self, **labels: str) -> float:
        fn = self._callbacks.get(_key(labels))
        return fn() if fn is not None else super().value(**labels)


class _HistChild:
    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    @property
    def value(self):
        return self.count


DEFAULT_BUCKETS = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help: str, buckets: Iterable[float] = DEFAULT_BUCKETS):
        super().__init__(name, help)
        self.buckets = tuple(sorted(buckets))

    def _new_child(self):
        return _HistChild(self.buckets)

    def observe(self, value: float, **labels: str) -> None:
        self.labels(**labels).observe(value)

    def samples(self) -> Iterable[str]:
        for key, child in sorted(self._children.items()):
            cumulative = 0
            for bound, n in zip(list(child.bounds) + [math.inf], child.counts, strict=True):
                cumulative += n
                le = "+Inf" if math.isinf(bound) else _fmt_value(bound)
                yield f"{self.name}_bucket{_fmt_labels(key, [('le', le)])} {cumulative}"
            yield f"{self.name}_sum{_fmt_labels(key)} {_fmt_value(child.sum)}"
            yield f"{self.name}_count{_fmt_labels(key)} {child.count}"


class Registry:
    """Named metrics of one process; asking twice for a name returns the same metric."""

    def __init__(self):
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def _get(self, cls, name: str, help: str, **kw):
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = self._metrics[name] = cls(name, help, **kw)
            elif not isinstance(metric, cls):
                raise TypeError(f"metric {name} already registered as {metric.kind}")
            return metric

    def counter(self, name: str, help: str = "") -> Counter:
        return self._get(Counter, name, help)

    def gauge(self, name: str, help: str = "") -> Gauge:
        return self._get(Gauge, name, help)

    def histogram(self, name: str, help: str = "", buckets: Iterable[float] = DEFAULT_BUCKETS) -> Histogram:
        return self._get(Histogram, name, help, buckets=buckets)

    def get(self, name: str) -> _Metric | None:
        return self._metrics.get(name)

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines: list[str] = []
        for name in sorted(self._metrics):
            m = self._metrics[name]
            if m.help:
                lines.append(f"# HELP {name} {m.help}")
            lines.append(f"# TYPE {name} {m.kind}")
            lines.extend(m.samples())
        return "\n".join(lines) + "\n"


class Telemetry:
    """What a component gets to report about itself: a metric registry and a logger."""

    def __init__(self, registry: Registry | None = None, logger: logging.Logger | None = None):
        self.metrics = registry or Registry()
        self.logger = logger or logging.getLogger("cobalt_trace")

    def child_logger(self, name: str) -> logging.Logger:
        return self.logger.getChild(name)
