"""validate_request: accepts what the OTLP schema allows, rejects malformed bytes naming the place,
and the native and pure-Python paths agree (also under random mutation)."""

from __future__ import annotations

import random

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from cobalt_trace.wire import validate as validate_module
from cobalt_trace.wire.errors import WireError

from .builders import field, make_request, varint, wrap_span

SPAN = "resource_spans[0].scope_spans[0].spans[0]"
TID = bytes(range(1, 17))
SID = bytes(range(1, 9))


def good_span(*extra: bytes) -> bytes:
    return field(1, 2, TID) + field(2, 2, SID) + field(5, 2, b"op") + b"".join(extra)


def test_realistic_request_counts_spans(validate_request):
    req = make_request(resources=3, spans_per_scope=5, scopes=2)
    assert validate_request(req.SerializeToString()) == 30


def test_empty_and_spanless_requests(validate_request):
    assert validate_request(b"") == 0
    req = ExportTraceServiceRequest()
    req.resource_spans.add().scope_spans.add()
    assert validate_request(req.SerializeToString()) == 0


def test_accepts_bytes_like(validate_request):
    data = make_request(resources=1, spans_per_scope=2, scopes=1).SerializeToString()
    assert validate_request(memoryview(data)) == validate_request(bytearray(data)) == 2


def test_empty_ids_are_unset_as_in_pdata(validate_request):
    span = field(1, 2, b"") + field(2, 2, b"") + field(4, 2, b"")
    assert validate_request(wrap_span(span)) == 1


def test_unknown_fields_are_skipped(validate_request):
    unknown = field(99, 2, b"future") + field(100, 0, 7) + field(101, 1, b"\0" * 8) + field(102, 5, b"\0" * 4)
    assert validate_request(wrap_span(good_span(unknown))) == 1
    # also inside a status (its field 1 is the reserved deprecated code) and at the top level
    assert validate_request(wrap_span(good_span(field(15, 2, field(1, 0, 2))))) == 1
    assert validate_request(field(7, 2, b"x") + wrap_span(good_span())) == 1


BAD_SPANS = [
    (field(1, 2, b"x" * 5), f"{SPAN}.trace_id: must be 16 bytes, got 5"),
    (field(1, 2, b"x" * 32), f"{SPAN}.trace_id: must be 16 bytes, got 32"),
    (field(2, 2, b"x" * 16), f"{SPAN}.span_id: must be 8 bytes, got 16"),
    (field(4, 2, b"x" * 7), f"{SPAN}.parent_span_id: must be 8 bytes, got 7"),
    (field(13, 2, field(1, 2, b"t" * 8)), f"{SPAN}.links[0].trace_id: must be 16 bytes, got 8"),
    (
        field(13, 2, field(2, 2, SID)) + field(13, 2, field(2, 2, b"s")),
        f"{SPAN}.links[1].span_id: must be 8 bytes, got 1",
    ),
    (field(1, 0, 5), f"{SPAN}.trace_id: wrong wire type varint (expected length-delimited)"),
    (
        field(7, 2, b"12345678"),
        f"{SPAN}.start_time_unix_nano: wrong wire type length-delimited (expected fixed64)",
    ),
    (field(16, 0, 1), f"{SPAN}.flags: wrong wire type varint (expected fixed32)"),
    (field(6, 5, b"\0\0\0\0"), f"{SPAN}.kind: wrong wire type fixed32 (expected varint)"),
    (field(15, 0, 2), f"{SPAN}.status: wrong wire type varint (expected length-delimited)"),
    (field(5, 2, b"\xff\xfe"), f"{SPAN}.name: invalid UTF-8 in string"),
    (field(5, 2, b"\xed\xa0\x80"), f"{SPAN}.name: invalid UTF-8 in string"),  # a surrogate
    (field(3, 2, b"\xc0\xaf"), f"{SPAN}.trace_state: invalid UTF-8 in string"),  # overlong
    (field(15, 2, field(2, 2, b"\x80")), f"{SPAN}.status.message: invalid UTF-8 in string"),
    (
        field(15, 2, field(3, 2, b"")),
        f"{SPAN}.status.code: wrong wire type length-delimited (expected varint)",
    ),
    (
        field(9, 2, field(1, 2, b"k") + field(2, 2, field(3, 2, b"1"))),
        f"{SPAN}.attributes[0].value.int_value: wrong wire type length-delimited (expected varint)",
    ),
    (
        field(9, 2, field(1, 2, b"a")) + field(9, 2, field(1, 2, b"\xff")),
        f"{SPAN}.attributes[1].key: invalid UTF-8 in string",
    ),
    (
        field(11, 2, field(1, 2, b"")),
        f"{SPAN}.events[0].time_unix_nano: wrong wire type length-delimited (expected fixed64)",
    ),
    (
        field(11, 2, b"")
        + field(11, 2, field(3, 2, field(2, 2, field(5, 2, field(1, 2, field(1, 2, b"\xff")))))),
        f"{SPAN}.events[1].attributes[0].value.array_value.values[0].string_value: invalid UTF-8 in string",
    ),
    (
        field(9, 2, field(2, 2, field(6, 2, field(1, 2, field(2, 2, field(4, 0, 1)))))),
        f"{SPAN}.attributes[0].value.kvlist_value.values[0].value.double_value: wrong wire type varint (expected fixed64)",
    ),
    (field(5, 2, b"op")[:-1], f"{SPAN}.name: length 2 exceeds the 1 bytes left in the message"),
    (field(7, 1, b"\0" * 5), f"{SPAN}.start_time_unix_nano: truncated fixed64"),
    (field(16, 5, b"\0"), f"{SPAN}.flags: truncated fixed32"),
    (field(6, 0, 0)[:1] + b"\x80\x80", f"{SPAN}.kind: truncated varint"),
    (field(6, 0, 0)[:1] + b"\xff" * 11, f"{SPAN}.kind: varint longer than 10 bytes"),
    (b"\x80", f"{SPAN}: truncated tag"),
    (b"\x80" * 11, f"{SPAN}: tag varint longer than 10 bytes"),
    (b"\x00\x00", f"{SPAN}: invalid field number 0"),
    (varint(50 << 3 | 3) + varint(50 << 3 | 4), f"{SPAN}: groups (wire type 3) are not supported"),
    (varint(1 << 3 | 3), f"{SPAN}.trace_id: wrong wire type start-group (expected length-delimited)"),
    (varint(50 << 3 | 7), f"{SPAN}: invalid wire type 7"),
    (varint(50 << 3 | 6), f"{SPAN}: invalid wire type 6"),
    (varint(1 << 35 | 2), f"{SPAN}: invalid field number {1 << 32}"),
    (field(1, 2, TID)[:1] + b"\xff" * 10 + b"\x01", f"{SPAN}.trace_id: length varint longer than 10 bytes"),
]


@pytest.mark.parametrize(("span", "message"), BAD_SPANS, ids=[m.split(": ")[-1][:40] for _, m in BAD_SPANS])
def test_malformed_span_is_rejected_naming_the_place(validate_request, span, message):
    data = wrap_span(good_span(span))
    with pytest.raises(WireError) as err:
        validate_request(data)
    text = str(err.value)
    assert text.startswith(message + " (byte "), text
    offset = int(text.rsplit("(byte ", 1)[1].rstrip(")"))
    assert 0 <= offset <= len(data)


def test_error_path_counts_repeated_fields():
    req = make_request(resources=2, spans_per_scope=4, scopes=2)
    span = req.resource_spans[1].scope_spans[1].spans[3]
    span.trace_id = b"short"
    data = req.SerializeToString()
    for check in (validate_module.validate_request_pure, validate_module.validate_request):
        with pytest.raises(
            WireError, match=r"^resource_spans\[1\]\.scope_spans\[1\]\.spans\[3\]\.trace_id: must be"
        ):
            check(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            field(1, 2, field(1, 2, field(1, 2, field(1, 2, b"\xff")))),
            "resource_spans[0].resource.attributes[0].key",
        ),
        (
            field(1, 2, field(2, 2, field(1, 2, field(2, 2, b"\xff")))),
            "resource_spans[0].scope_spans[0].scope.version",
        ),
        (field(1, 2, field(3, 2, b"\xff")), "resource_spans[0].schema_url"),
        (field(1, 2, field(2, 2, field(3, 2, b"\xff"))), "resource_spans[0].scope_spans[0].schema_url"),
        (
            field(1, 2, field(1, 2, field(3, 2, field(3, 2, b"\xff")))),
            "resource_spans[0].resource.entity_refs[0].id_keys[0]",
        ),
        (field(1, 0, 1), "resource_spans[0]: wrong wire type varint"),
        (b"\x0a\x05abc", "resource_spans[0]: length 5 exceeds the 3 bytes left"),
        (b"garbage!", "request: "),
    ],
)
def test_rejects_outside_spans(validate_request, data, message):
    with pytest.raises(WireError) as err:
        validate_request(data)
    assert str(err.value).startswith(message), str(err.value)


def _nested_array_attribute(levels: int) -> bytes:
    """A span attribute whose value nests `levels` AnyValue→ArrayValue pairs."""
    value = field(1, 2, b"x")
    for _ in range(levels):
        value = field(5, 2, field(1, 2, value))
    return field(9, 2, field(1, 2, b"k") + field(2, 2, value))


def _upb_accepts(data: bytes) -> bool:
    try:
        ExportTraceServiceRequest.FromString(data)
        return True
    except Exception:
        return False


@pytest.mark.parametrize("levels", [46, 47, 48])
def test_nesting_limit_matches_upb(validate_request, levels):
    # request → resource_spans → scope_spans → span → key_value → any_value: depth 5, +2 per level
    data = wrap_span(good_span(_nested_array_attribute(levels)))
    if _upb_accepts(data):
        assert validate_request(data) == 1
    else:
        with pytest.raises(WireError, match="nested deeper than 100 levels"):
            validate_request(data)
    assert _upb_accepts(data) == (5 + 2 * levels <= 100)


def test_schema_table_matches_the_installed_protos():
    """The walker must know every field the installed schema knows, with the same wire type —
    this keeps the pure path's upb fast accept sound."""
    kinds = {
        "TYPE_MESSAGE": {validate_module.MSG},
        "TYPE_STRING": {validate_module.STR},
        "TYPE_BYTES": {validate_module.BYTES, validate_module.ID16, validate_module.ID8},
        "TYPE_FIXED64": {validate_module.I64},
        "TYPE_DOUBLE": {validate_module.I64},
        "TYPE_FIXED32": {validate_module.I32},
    }
    from google.protobuf.descriptor import FieldDescriptor

    type_names = {v: k for k, v in vars(FieldDescriptor).items() if k.startswith("TYPE_")}
    messages = {
        "request": ExportTraceServiceRequest,
        "resource_spans": trace_pb2.ResourceSpans,
        "resource": resource_pb2.Resource,
        "scope_spans": trace_pb2.ScopeSpans,
        "scope": common_pb2.InstrumentationScope,
        "span": trace_pb2.Span,
        "event": trace_pb2.Span.Event,
        "link": trace_pb2.Span.Link,
        "status": trace_pb2.Status,
        "key_value": common_pb2.KeyValue,
        "any_value": common_pb2.AnyValue,
        "array_value": common_pb2.ArrayValue,
        "kvlist_value": common_pb2.KeyValueList,
    }
    if hasattr(resource_pb2, "EntityRef") or hasattr(common_pb2, "EntityRef"):
        messages["entity_ref"] = getattr(common_pb2, "EntityRef", None) or resource_pb2.EntityRef
    for name, cls in messages.items():
        table = validate_module.SCHEMA[name]
        for fd in cls.DESCRIPTOR.fields:
            assert fd.number in table, f"{name}.{fd.name} missing from the walker schema"
            _, kind, sub, repeated = table[fd.number]
            tname = type_names[fd.type]
            allowed = kinds.get(tname, {validate_module.VARINT})
            assert kind in allowed, f"{name}.{fd.name}: {tname} vs kind {kind}"
            assert repeated == fd.is_repeated, f"{name}.{fd.name}"


def test_pure_fast_accept_falls_back_for_unknown_fields(monkeypatch):
    """A request with an unknown field is still accepted — by the walker, not the fast path."""
    calls = []
    real = validate_module._walk
    monkeypatch.setattr(validate_module, "_walk", lambda *a: calls.append(1) or real(*a))
    clean = make_request(resources=1, spans_per_scope=3, scopes=1).SerializeToString()
    assert validate_module.validate_request_pure(clean) == 3 and not calls
    assert validate_module.validate_request_pure(clean + field(50, 0, 1)) == 3 and calls


def _mutate(rnd: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        pos = rnd.randrange(len(b) + 1)
        op = rnd.random()
        if op < 0.45 and pos < len(b):
            b[pos] = rnd.randrange(256)
        elif op < 0.6 and pos < len(b):
            b[pos] ^= 1 << rnd.randrange(8)
        elif op < 0.75:
            del b[pos : pos + rnd.randint(1, 6)]
        elif op < 0.9:
            b[pos:pos] = rnd.randbytes(rnd.randint(1, 6))
        else:
            del b[pos:]
    return bytes(b)


def test_fuzz_native_and_pure_agree_and_never_crash():
    native = validate_module.validate_request_native
    rnd = random.Random(20240611)
    seeds = [
        make_request(resources=2, spans_per_scope=2, scopes=1, seed=s).SerializeToString() for s in range(3)
    ]
    accepted = 0
    for i in range(1500):
        data = _mutate(rnd, seeds[i % len(seeds)])
        try:
            pure = validate_module.validate_request_pure(data)
        except WireError as exc:
            pure = str(exc)
        else:
            accepted += 1
        if native is not None:
            try:
                got = native(data)
            except WireError as exc:
                got = str(exc)
            assert got == pure, data.hex()
    assert 0 < accepted < 1500  # the mutations exercised both verdicts


def test_random_garbage_never_crashes(validate_request):
    rnd = random.Random(7)
    for n in range(400):
        data = rnd.randbytes(n % 64)
        try:
            assert validate_request(data) >= 0
        except WireError:
            pass


def test_large_request_offsets_and_count(validate_request):
    req = make_request(resources=3, spans_per_scope=50, scopes=2)
    data = req.SerializeToString()
    assert validate_request(data) == 300
    # flip the last span's trace id length: the byte offset points at that id
    last = req.resource_spans[2].scope_spans[1].spans[49]
    last.trace_id = b"\x01" * 15
    with pytest.raises(WireError, match=r"resource_spans\[2\]\.scope_spans\[1\]\.spans\[49\]\.trace_id"):
        validate_request(req.SerializeToString())
