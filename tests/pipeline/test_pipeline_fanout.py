"""Fan-out: copy-on-mutate, the original to the last mutating consumer only when nobody else
reads it, every consumer called, errors combined with the right retryability."""

from __future__ import annotations

import asyncio

import pytest
from pipeline_fakes import first_resource, make_batch, resource_bytes

from cobalt_trace.pipeline.errors import ConsumerError, PermanentError, RetryableError
from cobalt_trace.pipeline.fanout import FanOut, fan_out


class Sink:
    def __init__(self, name: str, mutates: bool = False, error: Exception | None = None):
        self.name = name
        self.mutates_data = mutates
        self.error = error
        self.batches = []
        self.seen: list[bytes] = []

    async def consume(self, batch) -> None:
        self.batches.append(batch)
        self.seen.append(first_resource(batch))
        if self.mutates_data:
            batch.message.resource_spans[0].resource = resource_bytes(self.name)
            await asyncio.sleep(0)  # give the others a chance to look at a shared batch
        if self.error is not None:
            raise self.error


def run(coro):
    return asyncio.run(coro)


def test_one_consumer_is_itself():
    sink = Sink("a")
    assert fan_out([sink]) is sink
    with pytest.raises(ValueError):
        FanOut([])


def test_mutating_consumers_get_copies_while_a_reader_shares_the_original():
    a, b, reader = Sink("a", mutates=True), Sink("b", mutates=True), Sink("reader")
    batch = make_batch("nova-api")
    original = first_resource(batch)
    fan = FanOut([a, reader, b])
    assert fan.mutates_data is False
    run(fan.consume(batch))
    assert reader.batches[0] is batch
    assert a.batches[0] is not batch and b.batches[0] is not batch
    # nobody saw anybody else's change, and the caller's batch is untouched
    assert a.seen == b.seen == reader.seen == [original]
    assert first_resource(batch) == original
    assert first_resource(a.batches[0]) == resource_bytes("a")
    assert first_resource(b.batches[0]) == resource_bytes("b")
    assert a.batches[0].span_count == b.batches[0].span_count == 2


def test_last_mutating_consumer_takes_the_original_when_no_reader_needs_it():
    a, b = Sink("a", mutates=True), Sink("b", mutates=True)
    batch = make_batch()
    original = first_resource(batch)
    fan = FanOut([a, b])
    assert fan.mutates_data is True  # its caller's batch does change
    run(fan.consume(batch))
    assert a.batches[0] is not batch and b.batches[0] is batch
    assert a.seen == b.seen == [original]


def test_readers_only_share_one_batch_without_copies():
    r1, r2 = Sink("r1"), Sink("r2")
    batch = make_batch()
    run(FanOut([r1, r2]).consume(batch))
    assert r1.batches[0] is batch and r2.batches[0] is batch


def test_flags_can_be_overridden_per_consumer():
    # a pipeline whose first processor reads but whose later processor mutates
    a, b = Sink("a"), Sink("b")
    batch = make_batch()
    run(FanOut([a, b], mutating=[True, False]).consume(batch))
    assert a.batches[0] is not batch and b.batches[0] is batch


def test_one_failure_is_raised_as_is_and_every_consumer_still_runs():
    boom = RetryableError("exporter down", retry_after=3.0)
    ok_before, failing, ok_after = Sink("x"), Sink("y", error=boom), Sink("z")
    with pytest.raises(RetryableError) as exc:
        run(FanOut([ok_before, failing, ok_after]).consume(make_batch()))
    assert exc.value is boom
    assert len(ok_before.batches) == len(ok_after.batches) == 1


def test_failures_combine_retryable_only_if_all_are():
    both_retryable = [
        Sink("a", error=RetryableError("queue full", retry_after=1.0, grpc_code="RESOURCE_EXHAUSTED")),
        Sink("b", error=RetryableError("busy", retry_after=5.0, grpc_code="RESOURCE_EXHAUSTED")),
    ]
    with pytest.raises(ConsumerError) as exc:
        run(FanOut(both_retryable).consume(make_batch()))
    assert exc.value.retryable
    assert str(exc.value) == "queue full; busy"
    assert exc.value.retry_after == 5.0 and exc.value.grpc_code == "RESOURCE_EXHAUSTED"

    mixed = [Sink("a", error=RetryableError("down")), Sink("b", error=PermanentError("bad span"))]
    with pytest.raises(ConsumerError) as exc:
        run(FanOut(mixed).consume(make_batch()))
    assert not exc.value.retryable
    assert str(exc.value) == "down; bad span"

    unexpected = [Sink("a", error=RetryableError("down")), Sink("b", error=ValueError("bug"))]
    with pytest.raises(ConsumerError) as exc:
        run(FanOut(unexpected).consume(make_batch()))
    assert not exc.value.retryable
