"""tail_sampling processor: timing, late spans, decision caches, eviction, shutdown, record_policy,
size limits, metrics and the seed's three policies.  A manual clock keeps decisions deterministic."""

from __future__ import annotations

import asyncio
import os
import random

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from cobalt_trace.components.processors.tail_sampling.factory import FACTORY
from cobalt_trace.components.processors.tail_sampling.policies import fnv1a_64, sampling_threshold
from cobalt_trace.components.processors.tail_sampling.processor import TailSamplingProcessor
from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.errors import ConfigError
from cobalt_trace.pipeline.telemetry import Telemetry
from cobalt_trace.wire.batch import SpanBatch

P = "otelcol_processor_tail_sampling_"
SEED_POLICIES = [
    {"name": "error-traces", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
    {"name": "slow-traces", "type": "latency", "latency": {"threshold_ms": 1000}},
    {"name": "probabilistic", "type": "probabilistic", "probabilistic": {"sampling_percentage": 10}},
]
ERROR, OK = 2, 1


# -- helpers ----------------------------------------------------------------------------------------
class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class Sink:
    mutates_data = False

    def __init__(self):
        self.requests: list[ExportTraceServiceRequest] = []
        self.arrived = asyncio.Event()

    async def consume(self, batch: SpanBatch) -> None:
        req = ExportTraceServiceRequest.FromString(batch.to_bytes())
        assert sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans) == batch.span_count
        self.requests.append(req)
        self.arrived.set()

    def spans(self) -> list[tuple]:
        return [
            (rs, ss, s)
            for r in self.requests
            for rs in r.resource_spans
            for ss in rs.scope_spans
            for s in ss.spans
        ]

    def span_ids_by_trace(self) -> dict[bytes, set[bytes]]:
        out: dict[bytes, set[bytes]] = {}
        for _, _, s in self.spans():
            out.setdefault(s.trace_id, set()).add(s.span_id)
        return out


def make_span(
    tid: bytes, n: int, *, root=False, start=1_000_000_000, dur_ms=10, status=0, flags=0, attrs=None
):
    s = trace_pb2.Span(
        trace_id=tid,
        span_id=n.to_bytes(8, "big"),
        parent_span_id=b"" if root else (n + 1000).to_bytes(8, "big"),
        name=f"op{n}",
        start_time_unix_nano=start,
        end_time_unix_nano=start + dur_ms * 1_000_000,
        flags=flags,
    )
    s.status.code = status
    for k, v in (attrs or {}).items():
        kv = s.attributes.add(key=k)
        if isinstance(v, bool):
            kv.value.bool_value = v
        elif isinstance(v, int):
            kv.value.int_value = v
        else:
            kv.value.string_value = v
    return s


def request(spans, *, service="svc", scope="lib") -> SpanBatch:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add(key="service.name")
    kv.value.string_value = service
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    ss.spans.extend(spans)
    return SpanBatch.from_bytes(req.SerializeToString(), validate=False)


def tid_of(i: int) -> bytes:
    return i.to_bytes(4, "big") + bytes(8) + (i * 7919).to_bytes(4, "big")


def make(policies=None, *, clock=None, sink=None, name="", **cfg):
    raw = {"decision_wait": "2s", "policies": SEED_POLICIES if policies is None else policies, **cfg}
    config, errors = decode(FACTORY.config_type, raw, "processors::tail_sampling")
    if errors:
        raise ConfigError(errors)
    telemetry = Telemetry()
    settings = CreateSettings(id=ComponentID("tail_sampling", name), kind=Kind.PROCESSOR, telemetry=telemetry)
    sink = sink or Sink()
    proc = TailSamplingProcessor(settings, config, sink, clock=clock or Clock(), unix_time=clock or Clock())
    return proc, sink, telemetry.metrics


def metric(registry, name: str, **labels) -> float:
    m = registry.get(P + name)
    return 0 if m is None else m.value(**labels)


def always(name="all"):
    return {"name": name, "type": "always_sample"}


# -- timing -----------------------------------------------------------------------------------------
def test_decides_exactly_decision_wait_after_the_first_span():
    async def run():
        clock = Clock()
        proc, sink, reg = make([always()], clock=clock)
        await proc.consume(request([make_span(b"\x01" * 16, 1)]))
        clock.t += 1.5
        await proc.consume(request([make_span(b"\x01" * 16, 2)]))  # later spans do not move the deadline
        clock.t += 0.49
        assert await proc.decide_due() == 0 and not sink.requests
        clock.t += 0.01
        assert await proc.decide_due() == 1
        assert sink.span_ids_by_trace() == {b"\x01" * 16: {(1).to_bytes(8, "big"), (2).to_bytes(8, "big")}}
        assert metric(reg, "new_trace_id_received") == 1
        assert metric(reg, "global_count_traces_sampled", sampled="true", decision="sampled") == 1

    asyncio.run(run())


def test_background_ticks_release_traces_and_shutdown_stops_them():
    async def run():
        proc, sink, _ = make([always()], clock=__import__("time").monotonic, decision_wait="50ms")
        await proc.start(None)
        await proc.consume(request([make_span(b"\x02" * 16, 1)]))
        await asyncio.wait_for(sink.arrived.wait(), timeout=5)
        assert len(sink.spans()) == 1
        await proc.shutdown()
        assert proc._task is None

    asyncio.run(run())


def test_decision_wait_after_root_received_brings_the_decision_forward():
    async def run():
        clock = Clock()
        proc, sink, _ = make(
            [always()], clock=clock, decision_wait="10s", decision_wait_after_root_received="1s"
        )
        with_root, without_root = b"\x03" * 16, b"\x04" * 16
        await proc.consume(request([make_span(with_root, 1), make_span(without_root, 2)]))
        clock.t += 2
        await proc.consume(request([make_span(with_root, 3, root=True)]))  # root arrives late
        clock.t += 0.99
        assert await proc.decide_due() == 0
        clock.t += 0.01
        assert await proc.decide_due() == 1
        assert set(sink.span_ids_by_trace()) == {with_root}
        clock.t = 1000 + 10
        assert await proc.decide_due() == 1  # the other trace at its full decision_wait
        assert set(sink.span_ids_by_trace()) == {with_root, without_root}

    asyncio.run(run())


def test_a_root_span_never_delays_the_decision():
    async def run():
        clock = Clock()
        proc, sink, _ = make(
            [always()], clock=clock, decision_wait="1s", decision_wait_after_root_received="5s"
        )
        await proc.consume(request([make_span(b"\x05" * 16, 1, root=True)]))
        clock.t += 1
        assert await proc.decide_due() == 1

    asyncio.run(run())


# -- the seed's policies ------------------------------------------------------------------------------
def test_seed_policies_keep_errors_slow_traces_and_the_fnv_share_of_the_rest():
    async def run():
        clock = Clock()
        proc, sink, reg = make(clock=clock)
        rnd = random.Random(7)
        expected, sent = set(), {}
        threshold = sampling_threshold(0.10)
        seed = fnv1a_64(b"default-hash-seed")
        pending = []
        for i in range(400):
            tid = os.urandom(16) if i % 3 else rnd.randbytes(16)
            kind = i % 10
            spans = [
                make_span(
                    tid,
                    j,
                    root=j == 0,
                    dur_ms=1500 if kind == 1 and j == 0 else 5,
                    status=ERROR if kind == 0 and j == 2 else OK,
                )
                for j in range(4)
            ]
            sent[tid] = {s.span_id for s in spans}
            if kind in (0, 1) or fnv1a_64(tid, seed) <= threshold:
                expected.add(tid)
            pending.extend(spans)
        rnd.shuffle(pending)  # spans of one trace spread over many requests
        for k in range(0, len(pending), 37):
            await proc.consume(request(pending[k : k + 37], service=f"s{k % 3}"))
        clock.t += 2
        await proc.decide_due()
        got = sink.span_ids_by_trace()
        assert set(got) == expected
        assert all(got[t] == sent[t] for t in got)  # whole traces only
        assert (
            metric(reg, "count_traces_sampled", policy="error-traces", sampled="true", decision="sampled")
            == 40
        )
        assert metric(reg, "sampling_traces_on_memory") == 400  # no cache: decided traces stay until evicted

    asyncio.run(run())


# -- late spans and decision caches --------------------------------------------------------------------
def test_late_spans_follow_the_stored_decision_without_a_cache():
    async def run():
        clock = Clock()
        policies = [{"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]
        proc, sink, reg = make(policies, clock=clock)
        kept, dropped = b"\x10" * 16, b"\x11" * 16
        await proc.consume(request([make_span(kept, 1, status=ERROR), make_span(dropped, 2)]))
        clock.t += 2
        await proc.decide_due()
        assert set(sink.span_ids_by_trace()) == {kept}
        clock.t += 3
        await proc.consume(request([make_span(kept, 3), make_span(dropped, 4, status=ERROR)]))
        assert sink.span_ids_by_trace()[kept] == {(1).to_bytes(8, "big"), (3).to_bytes(8, "big")}
        assert dropped not in sink.span_ids_by_trace()  # the error came too late to change the decision
        age = reg.get(P + "sampling_late_span_age")
        assert age.labels().count == 2 and age.labels().sum == 6
        assert proc.traces_in_memory == 2

    asyncio.run(run())


def test_decision_caches_release_late_spans_at_once_and_free_the_trace():
    async def run():
        clock = Clock()
        policies = [{"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]
        cache = {"sampled_cache_size": 10, "non_sampled_cache_size": 10}
        proc, sink, reg = make(policies, clock=clock, decision_cache=cache)
        kept, dropped = b"\x12" * 16, b"\x13" * 16
        await proc.consume(request([make_span(kept, 1, status=ERROR), make_span(dropped, 2)]))
        clock.t += 2
        await proc.decide_due()
        assert proc.traces_in_memory == 0  # with a cache the state goes right after the decision
        await proc.consume(
            request([make_span(kept, 3), make_span(kept, 4), make_span(dropped, 5, status=ERROR)])
        )
        assert len(sink.span_ids_by_trace()[kept]) == 3
        assert dropped not in sink.span_ids_by_trace()
        assert metric(reg, "early_releases_from_cache_decision", sampled="true") == 2
        assert metric(reg, "early_releases_from_cache_decision", sampled="false") == 1
        assert proc.traces_in_memory == 0

    asyncio.run(run())


def test_without_a_cache_an_evicted_decided_trace_is_decided_afresh():
    async def run():
        clock = Clock()
        policies = [{"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]
        proc, sink, reg = make(policies, clock=clock, num_traces=1)
        a, b = b"\x14" * 16, b"\x15" * 16
        await proc.consume(request([make_span(a, 1)]))
        clock.t += 2
        await proc.decide_due()  # a: not sampled, still held
        await proc.consume(request([make_span(b, 2)]))  # evicts a (decided: not "too early")
        await proc.consume(request([make_span(a, 3, status=ERROR)]))  # evicts b; a is new again
        clock.t += 2
        await proc.decide_due()
        assert sink.span_ids_by_trace() == {a: {(3).to_bytes(8, "big")}}
        assert metric(reg, "sampling_trace_dropped_too_early") == 1  # b
        assert metric(reg, "new_trace_id_received") == 3

    asyncio.run(run())


# -- memory bounds ----------------------------------------------------------------------------------
def test_num_traces_evicts_the_oldest_and_counts_it_when_due():
    async def run():
        clock = Clock()
        proc, sink, reg = make([always()], clock=clock, num_traces=3)
        ids = [bytes([0x20 + i]) * 16 for i in range(5)]
        for i, tid in enumerate(ids):
            await proc.consume(request([make_span(tid, i)]))
            clock.t += 0.1
        assert proc.traces_in_memory == 3
        assert metric(reg, "sampling_traces_on_memory") == 3
        assert metric(reg, "sampling_trace_dropped_too_early") == 0  # counted when the decision is due
        clock.t += 2
        await proc.decide_due()
        assert set(sink.span_ids_by_trace()) == set(ids[2:])
        assert metric(reg, "sampling_trace_dropped_too_early") == 2
        assert reg.get(P + "sampling_trace_removal_age").labels().count == 2

    asyncio.run(run())


def test_maximum_trace_size_bytes_drops_large_traces_at_once():
    async def run():
        clock = Clock()
        proc, sink, reg = make([always()], clock=clock, maximum_trace_size_bytes=1600)
        big, small = b"\x30" * 16, b"\x31" * 16
        await proc.consume(request([make_span(big, i, attrs={"blob": "x" * 300}) for i in range(4)]))
        assert metric(reg, "traces_dropped_too_large") == 0
        await proc.consume(request([make_span(big, 10, attrs={"blob": "x" * 300}), make_span(small, 11)]))
        assert metric(reg, "traces_dropped_too_large") == 1
        await proc.consume(request([make_span(big, 12)]))  # follows the NotSampled decision
        clock.t += 2
        await proc.decide_due()
        assert set(sink.span_ids_by_trace()) == {small}
        assert metric(reg, "traces_dropped_too_large") == 1

    asyncio.run(run())


def test_decisions_run_in_bounded_chunks_and_let_ingest_in_between():
    async def run():
        clock = Clock()
        proc, sink, _ = make([always()], clock=clock)
        proc._chunk = 10
        for i in range(95):
            await proc.consume(request([make_span(tid_of(i), i)]))
        clock.t += 2
        interleaved = []

        async def ingest():
            await asyncio.sleep(0)
            interleaved.append(len(sink.requests))
            await proc.consume(request([make_span(tid_of(999), 999)]))

        decided, _ = await asyncio.gather(proc.decide_due(), ingest())
        assert decided == 95
        assert len(sink.requests) == 10  # one export per chunk
        assert 0 < interleaved[0] < 10  # ingest ran while decisions were under way
        assert proc.traces_in_memory == 96

    asyncio.run(run())


def test_consume_never_raises_on_a_broken_batch():
    async def run():
        proc, sink, _ = make([always()])
        await proc.consume(SpanBatch(data=b"\xff\xff\xff", span_count=1))
        assert not sink.requests

    asyncio.run(run())


# -- shutdown ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("drop_pending", [False, True])
def test_shutdown_decides_and_flushes_pending_traces_unless_told_to_drop(drop_pending):
    async def run():
        clock = Clock()
        proc, sink, _ = make([always()], clock=clock, drop_pending_traces_on_shutdown=drop_pending)
        await proc.start(None)
        await proc.consume(request([make_span(b"\x40" * 16, 1), make_span(b"\x41" * 16, 2)]))
        await proc.shutdown()
        got = set(sink.span_ids_by_trace())
        assert got == (set() if drop_pending else {b"\x40" * 16, b"\x41" * 16})

    asyncio.run(run())


# -- record_policy, precedence, first match -------------------------------------------------------------
def scope_attrs(ss) -> dict:
    return {kv.key: kv.value for kv in ss.scope.attributes}


def test_record_policy_marks_kept_spans_scope_with_the_keeping_policy():
    async def run():
        clock = Clock()
        policies = [
            {"name": "never", "type": "span_count", "span_count": {"min_spans": 100}},
            {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
            {"name": "all", "type": "always_sample"},
        ]
        proc, sink, _ = make(
            policies, clock=clock, record_policy=True, decision_cache={"sampled_cache_size": 5}
        )
        tid = b"\x50" * 16
        await proc.consume(request([make_span(tid, 1, status=ERROR), make_span(tid, 2)]))
        clock.t += 2
        await proc.decide_due()
        await proc.consume(request([make_span(tid, 3)]))  # cache hit
        (first, late) = sink.requests
        ss = first.resource_spans[0].scope_spans[0]
        assert scope_attrs(ss)["tailsampling.policy"].string_value == "errors"
        assert ss.scope.name == "lib" and len(ss.spans) == 2
        late_attrs = scope_attrs(late.resource_spans[0].scope_spans[0])
        assert late_attrs["tailsampling.policy"].string_value == "errors"
        assert late_attrs["tailsampling.cached_decision"].bool_value is True

    asyncio.run(run())


def test_drop_policy_wins_over_every_other_decision():
    async def run():
        clock = Clock()
        policies = [
            always(),
            {
                "name": "drop-health",
                "type": "drop",
                "drop": {
                    "drop_sub_policy": [
                        {
                            "name": "h",
                            "type": "string_attribute",
                            "string_attribute": {"key": "http.route", "values": ["/health"]},
                        }
                    ]
                },
            },
        ]
        proc, sink, reg = make(policies, clock=clock)
        health, other = b"\x60" * 16, b"\x61" * 16
        await proc.consume(
            request([make_span(health, 1, attrs={"http.route": "/health"}), make_span(other, 2)])
        )
        clock.t += 2
        await proc.decide_due()
        assert set(sink.span_ids_by_trace()) == {other}
        assert metric(reg, "global_count_traces_sampled", sampled="false", decision="dropped") == 1
        # the drop policy ran first and ended evaluation: always_sample never saw the health trace
        assert metric(reg, "count_traces_sampled", policy="all", sampled="true", decision="sampled") == 1

    asyncio.run(run())


def test_inverted_not_sampled_beats_sampled_and_inverted_sampled_loses_to_not_sampled():
    async def run():
        clock = Clock()
        inv = {"name": "not-debug", "type": "string_attribute",
               "string_attribute": {"key": "debug", "values": ["yes"], "invert_match": True}}  # fmt: skip
        errors = {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}
        proc, sink, _ = make([inv, errors], clock=clock)
        debug_error, plain_error, debug_ok, plain_ok = (bytes([0x70 + i]) * 16 for i in range(4))
        await proc.consume(
            request(
                [
                    make_span(
                        debug_error, 1, status=ERROR, attrs={"debug": "yes"}
                    ),  # InvertNotSampled + Sampled
                    make_span(plain_error, 2, status=ERROR),  # InvertSampled + Sampled
                    make_span(debug_ok, 3, attrs={"debug": "yes"}),  # InvertNotSampled + NotSampled
                    make_span(plain_ok, 4),  # InvertSampled + NotSampled
                ]
            )
        )
        clock.t += 2
        await proc.decide_due()
        assert set(sink.span_ids_by_trace()) == {plain_error}

    asyncio.run(run())


def test_sample_on_first_match_stops_at_the_first_sampled_policy():
    async def run():
        clock = Clock()
        policies = [always("first"), always("second")]
        proc, sink, reg = make(policies, clock=clock, sample_on_first_match=True, name="edge")
        await proc.consume(request([make_span(b"\x80" * 16, 1)]))
        clock.t += 2
        await proc.decide_due()
        assert len(sink.spans()) == 1
        assert (
            metric(reg, "count_traces_sampled", policy="edge.first", sampled="true", decision="sampled") == 1
        )
        assert (
            metric(reg, "count_traces_sampled", policy="edge.second", sampled="true", decision="sampled") == 0
        )

    asyncio.run(run())


def test_attribute_policies_see_resource_attributes_too():
    async def run():
        clock = Clock()
        policies = [
            {
                "name": "svc",
                "type": "string_attribute",
                "string_attribute": {"key": "service.name", "values": ["nova"]},
            }
        ]
        proc, sink, _ = make(policies, clock=clock)
        await proc.consume(request([make_span(b"\x90" * 16, 1)], service="nova"))
        await proc.consume(request([make_span(b"\x91" * 16, 2)], service="glance"))
        clock.t += 2
        await proc.decide_due()
        assert set(sink.span_ids_by_trace()) == {b"\x90" * 16}
        ((rs, ss, _),) = sink.spans()
        assert rs.resource.attributes[0].value.string_value == "nova" and ss.scope.name == "lib"

    asyncio.run(run())


def test_all_upstream_metric_names_are_registered():
    _, _, reg = make()
    text = reg.render()
    for name in (
        "count_traces_sampled",
        "count_spans_sampled",
        "global_count_traces_sampled",
        "early_releases_from_cache_decision",
        "new_trace_id_received",
        "sampling_decision_latency",
        "sampling_decision_timer_latency",
        "sampling_late_span_age",
        "sampling_policy_evaluation_error",
        "sampling_trace_dropped_too_early",
        "sampling_trace_removal_age",
        "sampling_traces_on_memory",
        "traces_dropped_too_large",
    ):
        assert f"# TYPE {P}{name} " in text, name


# -- config ----------------------------------------------------------------------------------------
def test_defaults_match_upstream():
    config, errors = decode(FACTORY.config_type, {"policies": SEED_POLICIES}, "p")
    assert not errors
    assert config.decision_wait == 30 and config.num_traces == 50000
    assert config.decision_cache.sampled_cache_size == 0 and not config.sample_on_first_match


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"policies": [{"name": "a", "type": "status_code", "status_code": {"status_codes": []}}]},
         "policies[0]::status_code::status_codes: expected at least one status code"),
        ({"policies": [{"name": "a", "type": "status_code", "status_code": {"status_codes": ["FAIL"]}}]},
         "unknown status code 'FAIL'"),
        ({"policies": [always("a"), always("a")]}, "policies[1]::name: duplicate policy name 'a'"),
        ({"policies": [{"name": "a", "type": "bogus"}]}, "policies[0]::type: unknown sampling policy type 'bogus'"),
        ({"policies": [{"name": "a", "type": "numeric_attribute", "numeric_attribute": {"key": "k"}}]},
         "at least one of min_value or max_value must be set"),
        ({"policies": [{"name": "a", "type": "string_attribute",
                        "string_attribute": {"key": "k", "values": ["("], "enabled_regex_matching": True}}]},
         "invalid regex '('"),
        ({"policies": [], "decision_wait": "0s"}, "decision_wait: must be greater than 0"),
        ({"policies": [], "block_on_overflow": True}, "block_on_overflow: true is not supported"),
        ({"policies": [], "sampling_strategy": "span-ingest"}, "has invalid keys: sampling_strategy"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(raw, message):
    _, errors = decode(FACTORY.config_type, raw, "processors::tail_sampling")
    assert any(message in e for e in errors), errors
    assert all(e.startswith("processors::tail_sampling") for e in errors)


def test_factory_builds_a_working_processor():
    async def run():
        config, _ = decode(FACTORY.config_type, {"policies": [always()], "decision_wait": "1s"}, "p")
        settings = CreateSettings(id=ComponentID("tail_sampling"), kind=Kind.PROCESSOR, telemetry=Telemetry())
        sink = Sink()
        proc = FACTORY.create(settings, config, sink)
        await proc.start(None)
        await proc.consume(request([make_span(b"\xa0" * 16, 1)]))
        await proc.shutdown()  # decides on shutdown
        assert len(sink.spans()) == 1

    asyncio.run(run())


def test_policies_that_decode_spans_see_the_buffered_bytes():
    """trace_state, latency with an upper bound, numeric attributes and bytes_limiting read the
    spans lazily at decision time; trace_flags reads the summary kept at ingest."""

    async def run():
        clock = Clock()
        policies = [
            {"name": "ts", "type": "trace_state", "trace_state": {"key": "vendor", "values": ["keep"]}},
            {
                "name": "window",
                "type": "latency",
                "latency": {"threshold_ms": 100, "upper_threshold_ms": 200},
            },
            {
                "name": "num",
                "type": "numeric_attribute",
                "numeric_attribute": {"key": "retries", "min_value": 3},
            },
            {"name": "flags", "type": "trace_flags"},
        ]
        proc, sink, _ = make(policies, clock=clock)
        ids = [bytes([0xB0 + i]) * 16 for i in range(5)]
        with_state = make_span(ids[0], 1)
        with_state.trace_state = "vendor=keep"
        await proc.consume(
            request(
                [
                    with_state,
                    make_span(ids[1], 2, dur_ms=150),
                    make_span(ids[2], 3, attrs={"retries": 5}),
                    make_span(ids[3], 4, flags=0x301),
                    make_span(ids[4], 5, dur_ms=250, attrs={"retries": 1}),
                ]
            )
        )
        clock.t += 2
        await proc.decide_due()
        assert set(sink.span_ids_by_trace()) == set(ids[:4])

    asyncio.run(run())


def test_bytes_limiting_charges_the_trace_size():
    async def run():
        clock = Clock()
        proc, sink, _ = make(
            [
                {
                    "name": "bytes",
                    "type": "bytes_limiting",
                    "bytes_limiting": {"bytes_per_second": 500, "burst_capacity": 900},
                }
            ],
            clock=clock,
        )
        small, large = b"\xc0" * 16, b"\xc1" * 16
        await proc.consume(request([make_span(small, 1)]))
        await proc.consume(request([make_span(large, i, attrs={"blob": "x" * 400}) for i in range(2, 5)]))
        clock.t += 2
        await proc.decide_due()
        assert set(sink.span_ids_by_trace()) == {small}

    asyncio.run(run())


def test_composite_budgets_through_the_processor_and_records_the_sub_policy():
    async def run():
        clock = Clock()
        composite = {
            "name": "budget",
            "type": "composite",
            "composite": {
                "max_total_spans_per_second": 4,
                "composite_sub_policy": [
                    {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
                    {"name": "rest", "type": "always_sample"},
                ],
                "rate_allocation": [{"policy": "errors", "percent": 50}, {"policy": "rest", "percent": 50}],
            },
        }
        proc, sink, _ = make([composite], clock=clock, record_policy=True)
        ids = [bytes([0xD0 + i]) * 16 for i in range(4)]
        spans = [make_span(ids[0], 1, status=ERROR), make_span(ids[0], 2, status=ERROR)]
        spans += [make_span(ids[1], 3, status=ERROR)]  # errors budget (2) used up: not sampled
        spans += [make_span(ids[2], 4), make_span(ids[2], 5), make_span(ids[3], 6)]
        await proc.consume(request(spans))
        clock.t += 2
        await proc.decide_due()
        got = sink.span_ids_by_trace()
        assert set(got) == {ids[0], ids[2]}
        marks = {
            s.trace_id: scope_attrs(ss)["tailsampling.composite_policy"].string_value
            for _, ss, s in sink.spans()
        }
        assert marks == {ids[0]: "errors", ids[2]: "rest"}

    asyncio.run(run())


def test_root_rule_and_caches_together():
    async def run():
        clock = Clock()
        proc, sink, reg = make(
            [always()],
            clock=clock,
            decision_wait="5s",
            decision_wait_after_root_received="1s",
            decision_cache={"sampled_cache_size": 100},
        )
        tid = b"\xe0" * 16
        await proc.consume(request([make_span(tid, 1, root=True), make_span(tid, 2)]))
        clock.t += 1
        assert await proc.decide_due() == 1
        await proc.consume(request([make_span(tid, 3)]))
        assert len(sink.span_ids_by_trace()[tid]) == 3
        assert metric(reg, "early_releases_from_cache_decision", sampled="true") == 1
        clock.t += 10
        assert await proc.decide_due() == 0  # the original deadline finds nothing left to do

    asyncio.run(run())


def test_assembled_requests_keep_schema_urls_and_large_spans():
    from cobalt_trace.components.processors.tail_sampling.wire import assemble

    big = make_span(b"\xf0" * 16, 1, attrs={"blob": "y" * 20000}).SerializeToString()
    res = request([]).peek().resource_spans[0].resource
    data, count = assemble({(res, "https://r", b"\x0a\x01s", "https://s"): [big], (b"", "", b"", ""): [big]})
    req = ExportTraceServiceRequest.FromString(data)
    assert count == 2 and len(req.resource_spans) == 2
    assert req.resource_spans[0].schema_url == "https://r"
    assert req.resource_spans[0].scope_spans[0].schema_url == "https://s"
    assert req.resource_spans[0].scope_spans[0].spans[0].SerializeToString() == big


def test_a_failing_policy_is_counted_and_skipped():
    class Broken:
        stateful = False

        def evaluate(self, trace):
            raise RuntimeError("boom")

    async def run():
        clock = Clock()
        proc, sink, reg = make([always("broken"), always("ok")], clock=clock)
        proc._policies[0].evaluator = Broken()
        await proc.consume(request([make_span(b"\xf1" * 16, 1)]))
        clock.t += 2
        await proc.decide_due()
        assert len(sink.spans()) == 1
        assert metric(reg, "sampling_policy_evaluation_error") == 1

    asyncio.run(run())
