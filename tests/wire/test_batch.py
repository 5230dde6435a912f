"""SpanBatch: validation on entry, split/concat preserve every span byte for byte."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from cobalt_trace.wire.batch import SpanBatch
from cobalt_trace.wire.errors import WireError

from .builders import make_request


def _triples(batch: SpanBatch) -> list[tuple[bytes, bytes, bytes]]:
    """(resource bytes, scope bytes, span bytes) of every span, in order."""
    return [(rs.resource, ss.scope, span) for rs, ss, span in batch.iter_spans()]


def test_from_bytes_validates_and_counts():
    data = make_request(resources=2, spans_per_scope=3, scopes=2).SerializeToString()
    batch = SpanBatch.from_bytes(data)
    assert batch.span_count == len(batch) == 12 and batch.to_bytes() == data
    with pytest.raises(WireError, match=r"resource_spans\[0\]"):
        SpanBatch.from_bytes(data[:40])


@pytest.mark.parametrize("max_spans", [1, 5, 7, 12, 13, 100])
def test_split_then_concat_preserves_spans_exactly(max_spans):
    req = make_request(resources=3, spans_per_scope=4, scopes=2)
    batch = SpanBatch.from_bytes(req.SerializeToString())
    pieces = batch.split(max_spans)
    assert all(p.span_count <= max_spans for p in pieces)
    assert sum(p.span_count for p in pieces) == 24
    for p in pieces:  # every piece is a valid request on its own
        assert SpanBatch.from_bytes(p.to_bytes()).span_count == p.span_count
    joined = SpanBatch.concat(pieces)
    assert _triples(joined) == _triples(batch)
    assert SpanBatch.from_bytes(joined.to_bytes()).span_count == 24
    # the same spans as a full decode sees them, schema urls kept
    full = ExportTraceServiceRequest.FromString(joined.to_bytes())
    spans = [s for rs in full.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert [s.SerializeToString() for s in spans] == [t[2] for t in _triples(batch)]
    assert {rs.schema_url for rs in full.resource_spans} == {req.resource_spans[0].schema_url}


def test_concat_of_serialized_requests_is_their_join():
    a = SpanBatch.from_bytes(
        make_request(resources=1, spans_per_scope=2, scopes=1, seed=1).SerializeToString()
    )
    b = SpanBatch.from_bytes(
        make_request(resources=2, spans_per_scope=1, scopes=1, seed=2).SerializeToString()
    )
    joined = SpanBatch.concat([a, b])
    assert joined.to_bytes() == a.to_bytes() + b.to_bytes()
    assert joined.span_count == 4 and _triples(joined) == _triples(a) + _triples(b)


def test_copy_and_message_invalidation():
    batch = SpanBatch.from_bytes(make_request(resources=1, spans_per_scope=3, scopes=1).SerializeToString())
    copy = batch.copy()
    msg = batch.message  # may change it
    del msg.resource_spans[0].scope_spans[0].spans[0]
    assert batch.span_count == 2 and copy.span_count == 3
    assert SpanBatch.from_bytes(batch.to_bytes()).span_count == 2
