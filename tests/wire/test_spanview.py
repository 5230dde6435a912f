"""scan_spans reads the header fields exactly as a full decode sees them; full decode helpers."""

from __future__ import annotations

import random

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from cobalt_trace.wire import spanview
from cobalt_trace.wire.batch import SpanBatch
from cobalt_trace.wire.errors import WireError
from cobalt_trace.wire.spanview import SpanFields, decode_resource, decode_scope, decode_span, encode_span

from .builders import field, make_request


def _spans(req) -> list[bytes]:
    return [s for _, _, s in SpanBatch.from_bytes(req.SerializeToString()).iter_spans()]


def test_fields_match_full_decode(scan_spans):
    spans = _spans(make_request(resources=2, spans_per_scope=10, scopes=2))
    got = scan_spans(spans)
    assert len(got) == 40
    for raw, f in zip(spans, got, strict=True):
        full = trace_pb2.Span.FromString(raw)
        assert isinstance(f, SpanFields)
        assert f == (
            full.trace_id,
            full.span_id,
            full.parent_span_id,
            full.start_time_unix_nano,
            full.end_time_unix_nano,
            full.status.code,
            full.flags,
            full.trace_state,
        )
        assert f.status_code == full.status.code and f.trace_state == full.trace_state


def test_defaults_and_edge_values(scan_spans):
    span = trace_pb2.Span(
        start_time_unix_nano=2**64 - 1, end_time_unix_nano=1, flags=2**32 - 1, status=trace_pb2.Status(code=2)
    )
    empty, edge = scan_spans([b"", span.SerializeToString()])
    assert empty == SpanFields(b"", b"", b"", 0, 0, 0, 0, "")
    assert edge.start == 2**64 - 1 and edge.end == 1 and edge.flags == 2**32 - 1 and edge.status_code == 2


def test_status_merges_and_last_value_wins(scan_spans):
    # two status occurrences merge: a later one without a code keeps the earlier code
    raw = field(15, 2, field(3, 0, 2)) + field(15, 2, field(2, 2, b"m")) + field(7, 1, b"\1" + b"\0" * 7)
    raw += field(7, 1, b"\2" + b"\0" * 7)
    (f,) = scan_spans([raw])
    assert f.status_code == trace_pb2.Span.FromString(raw).status.code == 2
    assert f.start == 2
    # a negative (out of enum range) code reads as int32, like upb
    (g,) = scan_spans([field(15, 2, field(3, 0, -1))])
    assert g.status_code == trace_pb2.Span.FromString(field(15, 2, field(3, 0, -1))).status.code == -1


def test_accepts_bytes_like_items(scan_spans):
    raw = make_request(resources=1, spans_per_scope=1, scopes=1).resource_spans[0].scope_spans[0].spans[0]
    data = raw.SerializeToString()
    assert scan_spans([memoryview(data), bytearray(data)]) == scan_spans([data, data])


@pytest.mark.parametrize(
    "bad",
    [b"\x0a\x10abc", b"\x80", b"\x39\x00", field(15, 2, b"\x18"), field(3, 2, b"\xff")],
    ids=["short-length", "truncated-tag", "short-fixed64", "bad-status", "bad-utf8-tracestate"],
)
def test_malformed_spans_raise_wire_error_naming_the_index(scan_spans, bad):
    good = trace_pb2.Span(name="ok").SerializeToString()
    with pytest.raises(WireError, match=r"^spans\[1\]"):
        scan_spans([good, bad])


def test_native_scan_never_crashes_on_garbage():
    native = spanview.scan_spans_native
    if native is None:
        pytest.skip("native scanner not built")
    rnd = random.Random(3)
    base = _spans(make_request(resources=1, spans_per_scope=4, scopes=1))
    for i in range(2000):
        data = bytearray(base[i % 4])
        cut = rnd.randrange(len(data) + 1)
        data = data[:cut] if i % 2 else data
        if data:
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        try:
            native([bytes(data)])
        except WireError:
            pass
    with pytest.raises(TypeError):
        native([1])


def test_full_decode_helpers_round_trip():
    req = make_request(resources=1, spans_per_scope=2, scopes=1)
    rs = req.resource_spans[0]
    span = rs.scope_spans[0].spans[1]
    raw = span.SerializeToString()
    assert encode_span(decode_span(raw)) == raw
    assert decode_resource(rs.resource.SerializeToString()) == rs.resource
    assert decode_scope(rs.scope_spans[0].scope.SerializeToString()) == rs.scope_spans[0].scope
    with pytest.raises(WireError, match="^span: "):
        decode_span(b"\x0a\x05")
