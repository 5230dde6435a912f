"""RowBinary encoding: the native walk over raw OTLP bytes writes exactly what the pure-Python
encoder writes from decoded records, and ClickHouse reads it back as the same spans."""

import math

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from cobalt_trace.store import rowbinary
from cobalt_trace.store.decode import decode_batch
from cobalt_trace.wire.batch import SpanBatch
from cobalt_trace.wire.errors import WireError

from .helpers import NOW, make_batch

native = pytest.mark.skipif(rowbinary.NATIVE is None, reason="native _rowbinary not built")


def _odd_batch() -> SpanBatch:
    """Every value kind the encoder stringifies, events, links, duplicate keys, odd enums."""
    td = TracesData()
    rs = td.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.int_value = 7
    rs.resource.attributes.add(key="dup").value.string_value = "first"
    rs.resource.attributes.add(key="dup").value.string_value = "last"
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "lib", "1.2"
    sp = ss.spans.add(trace_id=bytes(range(16)), span_id=b"\x01" * 8, name="op", kind=9)
    sp.start_time_unix_nano, sp.end_time_unix_nano = NOW, NOW - 1000  # end before start → 0
    sp.trace_state = "a=b"
    values = [("s", "text"), ("i", -42), ("b", True), ("f", False), ("by", b"\x00\xffab")]
    for key, v in values:
        kv = sp.attributes.add(key=key)
        if isinstance(v, bool):
            kv.value.bool_value = v
        elif isinstance(v, int):
            kv.value.int_value = v
        elif isinstance(v, bytes):
            kv.value.bytes_value = v
        else:
            kv.value.string_value = v
    for d in (0.0, -0.0, 0.1, 1e-7, 1e21, 123456.789, 5e-324, math.inf, -math.inf, math.nan, 2.0**70):
        sp.attributes.add(key=f"d{d!r}").value.double_value = d
    sp.attributes.add(key="empty")  # no value set
    sp.status.code, sp.status.message = 2, "boom"
    ev = sp.events.add(time_unix_nano=NOW + 5, name="ev")
    ev.attributes.add(key="n").value.int_value = 3
    ln = sp.links.add(trace_id=b"\xaa" * 16, span_id=b"\xbb" * 8, trace_state="x=y")
    ln.attributes.add(key="l").value.string_value = "v"
    ss.spans.add(trace_id=b"\x02" * 16, span_id=b"\x03" * 8, kind=-1, start_time_unix_nano=NOW)
    td.resource_spans.add().scope_spans.add().spans.add(name="no resource, no scope")
    return SpanBatch(data=td.SerializeToString())


@native
@pytest.mark.parametrize("batch", [make_batch(40), _odd_batch()], ids=["loadgen", "odd"])
def test_native_and_python_encoders_agree(batch):
    rows, count = rowbinary.NATIVE.encode_request(batch.to_bytes())
    records = decode_batch(batch)
    assert count == len(records)
    assert rows == rowbinary.encode_records(records)


@native
def test_json_valued_attributes_fall_back_to_python():
    td = TracesData()
    sp = td.resource_spans.add().scope_spans.add().spans.add(name="op")
    arr = sp.attributes.add(key="arr").value.array_value
    arr.values.add().int_value = 1
    arr.values.add().string_value = "x"
    batch = SpanBatch(data=td.SerializeToString())
    with pytest.raises(NotImplementedError):
        rowbinary.NATIVE.encode_request(batch.to_bytes())
    rows, count = rowbinary.encode_batch(batch)
    assert count == 1 and b'[1,"x"]' in rows


@pytest.mark.parametrize("data", [b"\x0a\x04\x0a\x02\xff\xff", b"\x0a\x05\x12\x03\x12\x01"])
def test_malformed_spans_are_wire_errors(data):
    with pytest.raises(WireError):
        rowbinary.encode_batch(SpanBatch(data=data))


def test_records_read_back_identically(tmp_path):
    from cobalt_trace.store.clickhouse import open_chdb

    batch = _odd_batch()
    store = open_chdb(str(tmp_path / "db"), readers=1)
    try:
        assert store.write_batch(batch) == 3
        want = {r.span_id: r for r in decode_batch(batch)}
        got = store.get_trace(bytes(range(16)).hex())
        assert len(got) == 1
        assert got[0] == want[got[0].span_id]
    finally:
        store.close()
