"""Id helpers and W3C trace-context parsing/formatting."""

from __future__ import annotations

import pytest

from cobalt_trace.wire.errors import WireError
from cobalt_trace.wire.ids import (
    parse_span_id,
    parse_trace_id,
    random_span_id,
    random_trace_id,
    span_id_hex,
    trace_id_hex,
)
from cobalt_trace.wire.traceparent import (
    TraceParent,
    format_traceparent,
    format_tracestate,
    parse_traceparent,
    parse_tracestate,
)

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"


def test_ids_round_trip_and_case():
    raw = parse_trace_id(TID.upper())
    assert len(raw) == 16 and trace_id_hex(raw) == TID
    assert span_id_hex(parse_span_id(SID)) == SID


def test_short_ids_are_left_padded_like_jaeger():
    assert parse_trace_id("abc") == bytes(14) + b"\x0a\xbc"
    assert parse_trace_id("0" * 16 + "1" * 16) == bytes(8) + b"\x11" * 8
    assert parse_span_id("1") == bytes(7) + b"\x01"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("0" * 32, "all zeros"),
        ("g" * 32, "invalid hex"),
        ("a" * 33, "at most 32 hex digits, got 33"),
        ("12 34", "invalid hex"),
    ],
)
def test_bad_trace_ids(text, message):
    with pytest.raises(WireError, match=message):
        parse_trace_id(text)


def test_bad_span_ids():
    with pytest.raises(WireError, match="at most 16"):
        parse_span_id("1" * 17)
    with pytest.raises(WireError, match="expected a hex string"):
        parse_span_id(5)


def test_random_ids():
    ids = {random_trace_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 16 and any(i) for i in ids)
    assert len(random_span_id()) == 8


def test_traceparent_parse_and_format():
    header = f"00-{TID}-{SID}-01"
    tp = parse_traceparent(header)
    assert tp == TraceParent(bytes.fromhex(TID), bytes.fromhex(SID), 1) and tp.sampled
    assert format_traceparent(tp.trace_id, tp.span_id, tp.flags) == header
    assert not parse_traceparent(f"00-{TID}-{SID}-00").sampled
    assert parse_traceparent(f"  {header} ") == tp  # surrounding whitespace tolerated


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        f"00-{'0' * 32}-{SID}-01",  # all-zero trace id
        f"00-{TID}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TID.upper()}-{SID}-01",  # upper case is invalid
        f"00-{TID}-{SID}-01-extra",  # version 00 has exactly four fields
        f"ff-{TID}-{SID}-01",  # version ff is invalid
        f"00-{TID[:-1]}-{SID}-01",
        f"00-{TID}-{SID}-1",
        f"0-{TID}-{SID}-01",
        "garbage",
    ],
)
def test_invalid_traceparents_start_a_new_trace(header):
    assert parse_traceparent(header) is None


def test_future_versions_parse_the_known_prefix():
    assert parse_traceparent(f"01-{TID}-{SID}-01").flags == 1
    assert parse_traceparent(f"cc-{TID}-{SID}-09-what-the-future-holds").flags == 9
    assert parse_traceparent(f"cc-{TID}-{SID}-09x") is None  # more data must follow a "-"


def test_format_rejects_invalid_ids():
    with pytest.raises(ValueError):
        format_traceparent(b"\1" * 15, b"\1" * 8)
    with pytest.raises(ValueError):
        format_traceparent(bytes(16), b"\1" * 8)


def test_tracestate():
    members = parse_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,tenant@vendor=x")
    assert members == [("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE"), ("tenant@vendor", "x")]
    assert format_tracestate(members) == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,tenant@vendor=x"
    assert parse_tracestate("a=1,a=2") == []  # duplicate keys
    assert parse_tracestate("UPPER=1") == []
    assert parse_tracestate("k=va=lue") == []
    assert parse_tracestate("novalue") == []
    assert parse_tracestate(",".join(f"k{i}=v" for i in range(33))) == []
    assert len(parse_tracestate(",".join(f"k{i}=v" for i in range(32)))) == 32
    assert format_tracestate([(f"k{i}", "v") for i in range(40)]).count(",") == 31
