"""`MemoryStore`: the in-memory double of the trace store, for tests and tiny demos.

Same interface and same search semantics as the ClickHouse engine (both end in
`traceql.evaluate_trace`); data is partitioned by UTC day like `otel_traces`, so retention and
the size cap (counted in spans here) evict whole days, oldest first.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence

from .api import REQUEST_ID_KEYS
from .model import DependencyEdge, RedRow, SearchRequest, SpanRecord, TraceMatch, normalize_status
from .traceql import evaluate_trace
from .traceql.ast import Attribute, Intrinsic
from .traceql.evaluate import field_value

__all__ = ["MemoryStore", "quantile_exact"]

_DAY_NS = 86_400 * 10**9
_FIXED_VALUES = {
    "status": ("error", "ok", "unset"),
    "kind": ("client", "consumer", "internal", "producer", "server", "unspecified"),
}


def quantile_exact(sorted_values: Sequence[float], level: float) -> float:
    """ClickHouse `quantileExact`: the element at floor(level·n) of the sorted values."""
    if not sorted_values:
        return 0.0
    return float(sorted_values[min(int(level * len(sorted_values)), len(sorted_values) - 1)])


def _in(ts: int, start: int | None, end: int | None) -> bool:
    return (start is None or ts >= start) and (end is None or ts <= end)


class MemoryStore:
    def __init__(self, retention_s: float = 168 * 3600, max_spans: int = 0):
        self.retention_ns = int(retention_s * 1e9)
        self.max_spans = max_spans
        self._lock = threading.Lock()
        self._days: dict[int, list[SpanRecord]] = defaultdict(list)
        self._traces: dict[str, list[SpanRecord]] = defaultdict(list)
        self._count = 0
        self.closed = False

    # -- writer -------------------------------------------------------------------------------
    def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        with self._lock:
            for s in spans:
                self._days[s.timestamp // _DAY_NS].append(s)
                self._traces[s.trace_id].append(s)
            self._count += len(spans)

    @property
    def span_count(self) -> int:
        return self._count

    def enforce_retention(self, now_ns: int | None = None) -> int:
        now_ns = time.time_ns() if now_ns is None else now_ns
        dropped = 0
        with self._lock:
            for day in sorted(self._days):
                too_old = self.retention_ns > 0 and (day + 1) * _DAY_NS <= now_ns - self.retention_ns
                too_big = self.max_spans > 0 and self._count > self.max_spans and len(self._days) > 1
                if not (too_old or too_big):
                    break
                self._drop_day(day)
                dropped += 1
        return dropped

    def _drop_day(self, day: int) -> None:
        gone = self._days.pop(day)
        ids = {id(s) for s in gone}
        for tid in {s.trace_id for s in gone}:
            left = [s for s in self._traces[tid] if id(s) not in ids]
            if left:
                self._traces[tid] = left
            else:
                del self._traces[tid]
        self._count -= len(gone)

    def close(self) -> None:
        self.closed = True

    # -- reader -------------------------------------------------------------------------------
    def _spans(self, start: int | None, end: int | None) -> list[SpanRecord]:
        with self._lock:
            return [s for spans in self._days.values() for s in spans if _in(s.timestamp, start, end)]

    def get_trace(self, trace_id: str, start_ns=None, end_ns=None) -> list[SpanRecord]:
        with self._lock:
            spans = list(self._traces.get(trace_id.lower(), ()))
        return sorted((s for s in spans if _in(s.timestamp, start_ns, end_ns)), key=lambda s: s.timestamp)

    def get_traces(self, trace_ids) -> dict[str, list[SpanRecord]]:
        out = {}
        for tid in trace_ids:
            spans = self.get_trace(tid)
            if spans:
                out[tid.lower()] = spans
        return out

    def search(self, request: SearchRequest) -> list[TraceMatch]:
        candidates = {s.trace_id for s in self._spans(request.start_ns, request.end_ns)}
        out = []
        for tid in candidates:
            m = evaluate_trace(request.query, self.get_trace(tid), request.spans_per_spanset)
            if m is not None:
                out.append(m)
        out.sort(key=lambda m: m.start, reverse=True)
        return out[: request.limit]

    def find_by_request_id(self, request_id: str, start_ns=None, end_ns=None) -> list[SpanRecord]:
        tids = {
            s.trace_id
            for s in self._spans(start_ns, end_ns)
            if any(s.attributes.get(k) == request_id for k in REQUEST_ID_KEYS)
        }
        spans = [s for tid in tids for s in self.get_trace(tid)]
        return sorted(spans, key=lambda s: (s.timestamp, s.span_id))

    def services(self) -> list[str]:
        return sorted({s.service for s in self._spans(None, None)})

    def operations(self, service: str | None = None) -> list[tuple[str, str]]:
        return sorted(
            {(s.name, s.kind) for s in self._spans(None, None) if service is None or s.service == service}
        )

    def tag_names(self, start_ns=None, end_ns=None, limit: int = 1000) -> dict[str, list[str]]:
        span_keys, res_keys = set(), set()
        for s in self._spans(start_ns, end_ns):
            span_keys.update(s.attributes)
            res_keys.update(s.resource_attributes)
        return {"span": sorted(span_keys)[:limit], "resource": sorted(res_keys)[:limit]}

    def tag_values(self, tag, start_ns=None, end_ns=None, limit: int = 1000) -> list[str]:
        if isinstance(tag, Intrinsic) and tag.name in _FIXED_VALUES:
            return list(_FIXED_VALUES[tag.name])
        values = set()
        for s in self._spans(start_ns, end_ns):
            if isinstance(tag, Intrinsic) and tag.name in ("rootName", "rootServiceName"):
                candidates = ((s.name if tag.name == "rootName" else s.service) if s.is_root else None,)
            elif isinstance(tag, Intrinsic) and tag.name in ("duration", "traceDuration"):
                candidates = ()
            elif isinstance(tag, Attribute) and tag.scope == "":
                candidates = (s.attributes.get(tag.name), s.resource_attributes.get(tag.name))
            elif isinstance(tag, (Attribute, Intrinsic)):
                candidates = (field_value(tag, s, None),)
            else:
                raise TypeError(f"not a TraceQL field: {tag!r}")
            values.update(str(v) for v in candidates if v is not None)
        return sorted(values)[:limit]

    def dependencies(self, start_ns=None, end_ns=None) -> list[DependencyEdge]:
        spans = self._spans(start_ns, end_ns)
        by_id = {(s.trace_id, s.span_id): s for s in spans}
        edges: dict[tuple[str, str], list] = defaultdict(list)
        for child in spans:
            parent = by_id.get((child.trace_id, child.parent_span_id)) if child.parent_span_id else None
            if parent is not None and parent.service != child.service:
                edges[(parent.service, child.service)].append(child)
        out = []
        for (p, c), children in sorted(edges.items()):
            durations = sorted(s.duration for s in children)
            errors = sum(normalize_status(s.status_code) == "Error" for s in children)
            out.append(
                DependencyEdge(
                    p,
                    c,
                    len(children),
                    errors,
                    quantile_exact(durations, 0.5),
                    quantile_exact(durations, 0.99),
                    quantile_exact(durations, 0.95),
                )
            )
        return out

    def red(self, start_ns=None, end_ns=None, service=None, by_operation=True) -> list[RedRow]:
        spans = [s for s in self._spans(start_ns, end_ns) if service is None or s.service == service]
        groups: dict[tuple[str, str], list[SpanRecord]] = defaultdict(list)
        for s in spans:
            groups[(s.service, s.name if by_operation else "")].append(s)
        window = _window_seconds(start_ns, end_ns, spans)
        rows = []
        for (svc, op), items in sorted(groups.items()):
            d = sorted(s.duration for s in items)
            errors = sum(normalize_status(s.status_code) == "Error" for s in items)
            rows.append(
                RedRow(
                    svc,
                    op,
                    len(items),
                    errors,
                    quantile_exact(d, 0.5),
                    quantile_exact(d, 0.9),
                    quantile_exact(d, 0.99),
                    len(items) / window if window else 0.0,
                )
            )
        return rows


def _window_seconds(start_ns, end_ns, spans) -> float:
    if start_ns is not None and end_ns is not None:
        return max((end_ns - start_ns) / 1e9, 1e-9)
    if not spans:
        return 0.0
    lo = start_ns if start_ns is not None else min(s.timestamp for s in spans)
    hi = end_ns if end_ns is not None else max(s.timestamp for s in spans)
    return max((hi - lo) / 1e9, 1.0)
