"""The `tail_sampling` processor: buffer spans per trace, decide once per trace, release whole traces.

Behaviour follows contrib `processor/tailsamplingprocessor/processor.go`:

- A trace's decision is due `decision_wait` after its first span arrived (upstream ticks every
  second; we tick more often but never decide before the deadline).  A root span can bring the
  deadline forward to `decision_wait_after_root_received`.
- At most `num_traces` traces are held; a new trace evicts the oldest one.  An evicted trace that
  was still undecided is counted in `sampling_trace_dropped_too_early` when its decision falls due.
- Policies: drop policies first, a Dropped result stops evaluation; then InvertNotSampled >
  Sampled > InvertSampled (only if no policy said NotSampled) > NotSampled (`combine`).
- Late spans follow the stored decision while the trace is still held; with a decision cache a
  decided id is forwarded or dropped at once and its state freed right after the decision.
- `consume` never raises or waits: memory is bounded by `num_traces` and `maximum_trace_size_bytes`.

Buffered spans stay serialized bytes, grouped per trace as a flat list in arrival order where
group keys (resource, scope, schema urls) mark where the group changes.  Only trace id, times,
status and flags are read per span; attributes are decoded only for traces a policy needs them
from, at decision time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from ....pipeline.component import Component
from ....wire.batch import SpanBatch
from .policies import Decision, Needs, build_policy, needs_of
from .spanfields import Scanner
from .trace import LRU, Trace, group_items, summarizer
from .wire import GroupKey, assemble, field_size, span_field_size, upsert_scope_attribute

__all__ = ["TailSamplingProcessor", "METRIC_PREFIX", "combine"]

METRIC_PREFIX = "otelcol_processor_tail_sampling_"
POLICY_ATTRIBUTE = "tailsampling.policy"
COMPOSITE_ATTRIBUTE = "tailsampling.composite_policy"
CACHED_ATTRIBUTE = "tailsampling.cached_decision"

_UNSPECIFIED = Decision.UNSPECIFIED
_SAMPLED = Decision.SAMPLED
_NOT_SAMPLED = Decision.NOT_SAMPLED
_DROPPED = Decision.DROPPED
_INV_SAMPLED = Decision.INVERT_SAMPLED
_INV_NOT = Decision.INVERT_NOT_SAMPLED
_EVICTED = -1  # evicted before its decision; counted as dropped too early when due
_EVICTED_COUNTED = -2
_ZERO_SPAN_ID = bytes(8)
_DECISION_LABELS = {
    _SAMPLED: {"sampled": "true", "decision": "sampled"},
    _INV_SAMPLED: {"sampled": "true", "decision": "sampled"},
    _NOT_SAMPLED: {"sampled": "false", "decision": "not_sampled"},
    _INV_NOT: {"sampled": "false", "decision": "not_sampled"},
    _DROPPED: {"sampled": "false", "decision": "dropped"},
}
_MAX_INTERNED_KEYS = 10_000


class _Policy:
    __slots__ = ("name", "label", "evaluator", "is_drop", "counters", "span_counters")

    def __init__(self, name: str, label: str, evaluator, is_drop: bool):
        self.name = name
        self.label = label
        self.evaluator = evaluator
        self.is_drop = is_drop
        self.counters: dict = {}
        self.span_counters: dict = {}


def combine(decisions: dict[int, object]) -> tuple[int, object]:
    """Upstream's precedence over {decision: first policy that returned it}:
    Dropped > InvertNotSampled (as NotSampled) > Sampled > InvertSampled (as Sampled, only when no
    policy said NotSampled) > NotSampled.  Returns (final decision, policy that kept the trace)."""
    if _DROPPED in decisions:
        return _DROPPED, decisions[_DROPPED]
    if _INV_NOT in decisions:
        return _NOT_SAMPLED, None
    if _SAMPLED in decisions:
        return _SAMPLED, decisions[_SAMPLED]
    if _INV_SAMPLED in decisions and _NOT_SAMPLED not in decisions:
        return _SAMPLED, decisions[_INV_SAMPLED]
    return _NOT_SAMPLED, None


class TailSamplingProcessor(Component):
    mutates_data = False

    def __init__(
        self,
        settings,
        config,
        next_consumer,
        *,
        clock: Callable[[], float] = time.monotonic,
        unix_time: Callable[[], float] = time.time,
        tick_interval: float | None = None,
        chunk_size: int = 2000,
    ):
        super().__init__(settings, config)
        self._next = next_consumer
        self._clock = clock
        self._log = settings.telemetry.child_logger(f"processor.{settings.id}")
        self._wait = float(config.decision_wait)
        self._after_root = float(config.decision_wait_after_root_received)
        self._num_traces = config.num_traces
        self._max_size = config.maximum_trace_size_bytes
        self._first_match = config.sample_on_first_match
        self._record = config.record_policy
        # upstream ticks once a second; finer ticks only make decisions closer to their deadline
        self._tick = tick_interval if tick_interval is not None else min(1.0, max(0.01, self._wait / 10))
        self._chunk = max(1, chunk_size)

        component_name = settings.id.name
        drops, others = [], []
        needs = Needs()
        for p in config.policies:
            label = f"{component_name}.{p.name}" if component_name else p.name
            evaluator = build_policy(p, clock=clock, unix_time=unix_time)
            (drops if p.type == "drop" else others).append(
                _Policy(p.name, label, evaluator, p.type == "drop")
            )
            needs_of(p, needs)
        self._policies: list[_Policy] = drops + others
        self._track_size = self._max_size > 0
        self._scanner = Scanner(
            parent=self._after_root > 0, times=needs.times, status=needs.status, flags=needs.flags
        )
        self._i_parent = self._scanner.index.get("parent", 0)
        self._summarize = summarizer(self._scanner.index, needs)

        cache = config.decision_cache
        self._sampled_cache = LRU(cache.sampled_cache_size) if cache.sampled_cache_size > 0 else None
        self._not_sampled_cache = (
            LRU(cache.non_sampled_cache_size) if cache.non_sampled_cache_size > 0 else None
        )

        self._fast_path = (
            self._sampled_cache is None
            and self._not_sampled_cache is None
            and not self._after_root
            and not self._track_size
        )
        self._traces: OrderedDict[bytes, Trace] = OrderedDict()  # arrival order = eviction order
        self._due: deque[Trace] = deque()  # undecided traces by first arrival = by deadline
        self._due_root: deque[tuple[float, Trace]] = deque()  # deadlines brought forward by a root span
        self._keys: dict[GroupKey, GroupKey] = {}
        self._scopes: dict[tuple, bytes] = {}
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._stopped = False
        self._init_metrics(settings.telemetry.metrics)

    # -- metrics -----------------------------------------------------------------------------------
    def _init_metrics(self, registry) -> None:
        p = METRIC_PREFIX
        traces_sampled = registry.counter(
            p + "count_traces_sampled", "Count of traces that were sampled or not per sampling policy"
        )
        spans_sampled = registry.counter(
            p + "count_spans_sampled", "Count of spans that were sampled or not per sampling policy"
        )
        for pol in self._policies:
            for d, labels in _DECISION_LABELS.items():
                pol.counters[d] = traces_sampled.labels(policy=pol.label, **labels)
                pol.span_counters[d] = spans_sampled.labels(policy=pol.label, **labels)
        global_count = registry.counter(
            p + "global_count_traces_sampled",
            "Global count of traces that were sampled or not by at least one policy",
        )
        self._m_global = {d: global_count.labels(**labels) for d, labels in _DECISION_LABELS.items()}
        early = registry.counter(
            p + "early_releases_from_cache_decision",
            "Number of spans that were able to be immediately released due to a decision cache hit.",
        )
        self._m_early_true = early.labels(sampled="true")
        self._m_early_false = early.labels(sampled="false")
        self._m_new = registry.counter(
            p + "new_trace_id_received", "Counts the arrival of new traces"
        ).labels()
        self._m_eval_error = registry.counter(
            p + "sampling_policy_evaluation_error", "Count of sampling policy evaluation errors"
        ).labels()
        self._m_too_early = registry.counter(
            p + "sampling_trace_dropped_too_early",
            "Count of traces that needed to be dropped before the configured wait time",
        ).labels()
        self._m_too_large = registry.counter(
            p + "traces_dropped_too_large", "Count of traces that were dropped because they were too large"
        ).labels()
        self._m_decision_latency = registry.histogram(
            p + "sampling_decision_latency", "Latency (in microseconds) of a given sampling policy"
        ).labels()
        self._m_timer_latency = registry.histogram(
            p + "sampling_decision_timer_latency",
            "Latency (in milliseconds) of each run of the sampling decision timer",
        ).labels()
        self._m_late_age = registry.histogram(
            p + "sampling_late_span_age",
            "Time (in seconds) from the sampling decision was taken and the arrival of a late span",
        ).labels()
        self._m_removal_age = registry.histogram(
            p + "sampling_trace_removal_age",
            "Time (in seconds) from arrival of a new trace until its removal from memory",
        ).labels()
        registry.gauge(
            p + "sampling_traces_on_memory", "Tracks the number of traces current on memory"
        ).set_function(lambda: len(self._traces))

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, host) -> None:
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.id}-decisions")

    async def shutdown(self) -> None:
        """Stop ticking; then decide every pending trace now and flush it, or drop them all when
        `drop_pending_traces_on_shutdown` is set."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.config.drop_pending_traces_on_shutdown:
            self._traces.clear()
            self._due.clear()
            self._due_root.clear()
            return
        await self.decide_due(everything=True)

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._tick)
            if self._stop.is_set():
                return
            try:
                await self.decide_due()
            except Exception:  # the decision loop must survive anything one trace can do
                self._log.exception("tail sampling decision tick failed")

    @property
    def traces_in_memory(self) -> int:
        return len(self._traces)

    # -- ingest --------------------------------------------------------------------------------------
    async def consume(self, batch: SpanBatch) -> None:
        """Buffer `batch`'s spans per trace; spans of already-decided traces are forwarded or
        dropped right away.  Never raises: like upstream, tail sampling never pushes back."""
        try:
            forward = self._ingest(batch)
        except Exception:
            self._log.exception("tail sampling could not read a batch; its spans are dropped")
            return
        if forward:
            await self._emit(forward)

    def _ingest(self, batch: SpanBatch) -> dict | None:
        now = self._clock()
        pieces: dict[bytes, list] = {}  # trace id -> [items, fields, last group key]
        keys = self._keys
        get = pieces.get
        for rs, ss, spans, fields in self._scanner.scan(batch):
            key = (rs.resource, rs.schema_url, ss.scope, ss.schema_url)
            interned = keys.get(key)
            if interned is None:
                if len(keys) >= _MAX_INTERNED_KEYS:
                    keys.clear()
                interned = keys[key] = key
            key = interned
            for span, f in zip(spans, fields, strict=True):
                tid = f[0]
                piece = get(tid)
                if piece is None:
                    pieces[tid] = [[key, span], [f], key]
                else:
                    if piece[2] is not key:
                        piece[0].append(key)
                        piece[2] = key
                    piece[0].append(span)
                    piece[1].append(f)
        forward: dict | None = None
        traces = self._traces
        summarize = self._summarize
        fast = self._fast_path
        for tid, (items, fields, _) in pieces.items():
            if fast:  # no caches, root or size rules: buffer undecided traces inline
                t = traces.get(tid)
                if t is None:
                    if len(traces) >= self._num_traces:
                        self._evict_oldest(now)
                    t = traces[tid] = Trace(tid, now)
                    self._due.append(t)
                    self._m_new.add(1)
                if t.decision == _UNSPECIFIED:
                    t.span_count += len(fields)
                    if summarize is not None:
                        summarize(t, fields)
                    if t.items:
                        t.items.extend(items)
                    else:
                        t.items = items
                    continue
            route = self._route(tid, items, fields, now)
            if route is not None:
                if forward is None:
                    forward = {}
                group_items(route, forward)
        return forward

    def _route(self, tid: bytes, items: list, fields: list, now: float) -> list | None:
        """Buffer one trace's share of a batch; returns items to forward at once, if any."""
        n = len(fields)
        if self._sampled_cache is not None:
            policy = self._sampled_cache.get(tid)
            if policy is not None:
                self._m_early_true.add(n)
                if self._record:
                    return self._relabel(items, policy, cached=True)
                return items
        if self._not_sampled_cache is not None and self._not_sampled_cache.get(tid) is not None:
            self._m_early_false.add(n)
            return None
        traces = self._traces
        t = traces.get(tid)
        if t is None:
            if len(traces) >= self._num_traces:
                self._evict_oldest(now)
            t = traces[tid] = Trace(tid, now)
            self._due.append(t)
            self._m_new.add(1)
        t.span_count += n
        decision = t.decision
        if self._after_root and decision == _UNSPECIFIED:
            ip = self._i_parent
            for f in fields:
                parent = f[ip]
                if not parent or parent == _ZERO_SPAN_ID:
                    deadline = now + self._after_root
                    if deadline < t.arrival + self._wait and (
                        not self._due_root or self._due_root[-1][1] is not t
                    ):
                        self._due_root.append((deadline, t))
                    break
        if decision == _UNSPECIFIED:
            if self._summarize is not None:
                self._summarize(t, fields)
            if self._track_size:
                t.size += self._piece_size(items)
                if t.size > self._max_size:
                    self._m_too_large.add(1)
                    t.decision = _NOT_SAMPLED  # decided outside the decision loop: no decision time
                    t.items = None
                    self._release_not_sampled(t, now)
                    return None
            if t.items:
                t.items.extend(items)
            else:
                t.items = items
            return None
        # a late span: the decision was already made while the trace is still held
        if t.decided_at:
            self._m_late_age.observe(int(now - t.decided_at))
        if decision == _SAMPLED:
            return items
        if decision == _NOT_SAMPLED:
            self._release_not_sampled(t, now)
        return None

    @staticmethod
    def _piece_size(items: list) -> int:
        """Upstream's ResourceSpansSize of the trace's share of a batch (close to exact: one
        ResourceSpans per resource, one ScopeSpans per scope)."""
        size = 0
        for item in items:
            if type(item) is tuple:
                resource, rs_schema, scope, ss_schema = item
                size += field_size(len(resource)) + field_size(len(scope)) + 2
                size += len(rs_schema) + len(ss_schema)
            else:
                size += span_field_size(item)
        return size

    def _evict_oldest(self, now: float) -> None:
        _, oldest = self._traces.popitem(last=False)
        oldest.items = None
        if oldest.decision == _UNSPECIFIED:
            oldest.decision = _EVICTED
        self._m_removal_age.observe(int(now - oldest.arrival))

    def _forget(self, t: Trace, now: float) -> None:
        if self._traces.get(t.trace_id) is t:
            del self._traces[t.trace_id]
            self._m_removal_age.observe(int(now - t.arrival))

    def _release_not_sampled(self, t: Trace, now: float) -> None:
        if self._not_sampled_cache is not None:
            self._not_sampled_cache.put(t.trace_id, t.policy)
            self._forget(t, now)

    # -- decisions ------------------------------------------------------------------------------------
    async def decide_due(self, *, everything: bool = False) -> int:
        """Decide every trace whose decision is due (all pending traces with `everything`), in
        chunks so ingest keeps running between them.  Returns the number of traces decided."""
        started = time.perf_counter()
        decided = 0
        while True:
            now = self._clock()
            sampled: dict[GroupKey, list[bytes]] = {}
            n = self._decide_chunk(now, everything, sampled)
            decided += n
            if sampled:
                await self._emit(sampled)
            if n < self._chunk:
                break
            await asyncio.sleep(0)
        self._m_timer_latency.observe(int((time.perf_counter() - started) * 1000))
        return decided

    def _decide_chunk(self, now: float, everything: bool, sampled: dict) -> int:
        done = 0
        due, due_root = self._due, self._due_root
        limit = now - self._wait
        # per-policy [traces, spans] by decision, added to the metrics once per chunk as upstream
        # does once per tick: keeps metric bookkeeping out of the per-trace path
        stats = [([0] * 8, [0] * 8) for _ in self._policies]
        rows = [
            (pol, pol.evaluator.evaluate, tr, sp) for pol, (tr, sp) in zip(self._policies, stats, strict=True)
        ]
        finals = [0] * 8
        started = time.perf_counter()
        while done < self._chunk:
            if due_root and (everything or due_root[0][0] <= now):
                t = due_root.popleft()[1]
            elif due and (everything or due[0].arrival <= limit):
                t = due.popleft()
            else:
                break
            decision = t.decision
            if decision == _UNSPECIFIED:
                finals[self._decide(t, now, sampled, rows)] += 1
                done += 1
            elif decision == _EVICTED:
                t.decision = _EVICTED_COUNTED
                self._m_too_early.add(1)
        if done:
            self._m_decision_latency.observe(int((time.perf_counter() - started) * 1e6 / done))
            for final, n in enumerate(finals):
                if n:
                    self._m_global[final].add(n)
            for pol, (traces, spans) in zip(self._policies, stats, strict=True):
                for d, n in enumerate(traces):
                    if n and d in pol.counters:
                        pol.counters[d].add(n)
                        pol.span_counters[d].add(spans[d])
        return done

    def _decide(self, t: Trace, now: float, sampled: dict, rows: list) -> int:
        first: dict[int, _Policy] = {}
        spans = t.span_count
        composite_name = ""
        record, first_match = self._record, self._first_match
        for pol, evaluate, traces_by, spans_by in rows:
            try:
                d = evaluate(t)
            except Exception as exc:
                self._m_eval_error.add(1)
                self._log.debug("sampling policy %s failed: %s", pol.name, exc)
                continue
            traces_by[d] += 1
            spans_by[d] += spans
            if d not in first:
                first[d] = pol
            if d == _SAMPLED:
                if record and not composite_name:
                    # a composite marks the traces it samples, whoever keeps them in the end
                    composite_name = getattr(pol.evaluator, "last_sampled_by", "")
                if first_match:
                    break
            elif d == _DROPPED:
                break
        final, keeper = combine(first)
        t.decision = final
        t.decided_at = now
        t.decoded = None
        items, t.items = t.items, None
        if final == _SAMPLED:
            t.policy = keeper.name if keeper is not None else ""
            if self._record and items:
                items = self._relabel(items, t.policy, composite=composite_name)
            if items:
                group_items(items, sampled)
            if self._sampled_cache is not None:
                self._sampled_cache.put(t.trace_id, t.policy)
                self._forget(t, now)
        else:
            if final == _DROPPED and keeper is not None:
                t.policy = keeper.name
            self._release_not_sampled(t, now)
        return final

    # -- release --------------------------------------------------------------------------------------
    def _relabel(self, items: list, policy: str, *, composite: str = "", cached: bool = False) -> list:
        """`items` with the `tailsampling.*` scope attributes set (upstream puts them on the
        instrumentation scope of every kept span)."""
        out = []
        for item in items:
            if type(item) is tuple:
                resource, rs_schema, scope, ss_schema = item
                cache_key = (scope, policy, composite, cached)
                new_scope = self._scopes.get(cache_key)
                if new_scope is None:
                    new_scope = scope
                    if policy:
                        new_scope = upsert_scope_attribute(new_scope, POLICY_ATTRIBUTE, policy)
                    if composite:
                        new_scope = upsert_scope_attribute(new_scope, COMPOSITE_ATTRIBUTE, composite)
                    if cached:
                        new_scope = upsert_scope_attribute(new_scope, CACHED_ATTRIBUTE, True)
                    if len(self._scopes) >= _MAX_INTERNED_KEYS:
                        self._scopes.clear()
                    self._scopes[cache_key] = new_scope
                item = (resource, rs_schema, new_scope, ss_schema)
            out.append(item)
        return out

    async def _emit(self, groups: dict[GroupKey, list[bytes]]) -> None:
        data, count = assemble(groups)
        if not count:
            return
        try:
            await self._next.consume(SpanBatch(data=data, span_count=count))
        except Exception as exc:  # upstream logs and goes on; the exporter counts its own failures
            self._log.log(logging.WARNING, "error sending sampled spans to the next consumer: %s", exc)
