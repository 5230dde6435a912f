"""OTLP/JSON: the reference example, byte-identical round trips, spec encodings, error paths."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1 import trace_pb2

from cobalt_trace.wire.batch import SpanBatch
from cobalt_trace.wire.errors import WireError
from cobalt_trace.wire.otlp_json import message_from_json, message_to_json, traces_from_json, traces_to_json

from .builders import any_value, make_request

# The example of the OTLP specification (opentelemetry-proto examples/trace.json): upper-case hex
# ids and 64-bit integers as JSON numbers.
EXAMPLE = Path(__file__).resolve().parent / "otlp_example_trace.json"


def _reference_bytes() -> bytes:
    return EXAMPLE.read_bytes()


def test_reference_example_decodes():
    req = ExportTraceServiceRequest.FromString(traces_from_json(_reference_bytes()))
    rs = req.resource_spans[0]
    assert rs.resource.attributes[0].key == "service.name"
    assert rs.resource.attributes[0].value.string_value == "my.service"
    ss = rs.scope_spans[0]
    assert (ss.scope.name, ss.scope.version) == ("my.library", "1.0.0")
    assert ss.scope.attributes[0].value.string_value == "some scope attribute"
    span = ss.spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"  # given in upper case
    assert span.span_id.hex() == "eee19b7ec3c1b174"
    assert span.parent_span_id.hex() == "eee19b7ec3c1b173"
    assert span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert span.start_time_unix_nano == 1544712660000000000  # int64 given as a JSON number
    assert span.end_time_unix_nano == 1544712661000000000
    assert span.attributes[0].value.string_value == "some value"


def test_round_trip_is_byte_identical():
    canonical = make_request(resources=3, spans_per_scope=6, scopes=2).SerializeToString()
    text = traces_to_json(canonical)
    assert traces_from_json(text) == canonical
    assert traces_to_json(traces_from_json(text)) == text


def test_output_follows_otlp_json():
    req = make_request(resources=1, spans_per_scope=4, scopes=1)
    doc = json.loads(traces_to_json(SpanBatch.from_bytes(req.SerializeToString())))  # a SpanBatch works too
    span_doc = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span = req.resource_spans[0].scope_spans[0].spans[0]
    assert span_doc["traceId"] == span.trace_id.hex() and span_doc["spanId"] == span.span_id.hex()
    assert span_doc["startTimeUnixNano"] == str(span.start_time_unix_nano)  # 64-bit as strings
    assert span_doc["kind"] == span.kind and isinstance(span_doc["flags"], int)  # enums as ints
    attrs = {a["key"]: a.get("value") for a in span_doc["attributes"]}
    assert attrs["http.status_code"] == {"intValue": str(200 + 1)}
    assert attrs["raw"] == {"bytesValue": base64.b64encode(b"\x00\xff" * 3).decode()}
    assert attrs["list"]["arrayValue"]["values"][1] == {"intValue": "1"}
    assert attrs["map"]["kvlistValue"]["values"][0] == {"key": "k", "value": {"stringValue": "v"}}
    assert attrs["empty"] == {"stringValue": ""}  # a oneof member set to its default is kept
    assert attrs["unset"] is None
    assert "status" in span_doc  # present (OK) for span 1
    assert doc["resourceSpans"][0]["schemaUrl"].startswith("https://")


def test_non_finite_doubles_round_trip():
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add(name="x")
    for k, v in (("nan", math.nan), ("inf", math.inf), ("ninf", -math.inf), ("zero", 0.0)):
        span.attributes.add(key=k, value=any_value(v))
    text = traces_to_json(req.SerializeToString())
    values = [
        a["value"]["doubleValue"]
        for a in json.loads(text)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    ]
    assert values == ["NaN", "Infinity", "-Infinity", 0.0]
    assert traces_from_json(text) == req.SerializeToString()


def test_input_leniency_of_protobuf_json():
    doc = {
        "resource_spans": [  # snake_case keys
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "",
                                "kind": "SPAN_KIND_CLIENT",
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": 1.5e18,
                                "droppedAttributesCount": "3",
                                "status": {"code": "STATUS_CODE_ERROR", "message": None},
                                "attributes": [
                                    {"key": "i", "value": {"intValue": -5}},
                                    {"key": "d", "value": {"doubleValue": "2.5"}},
                                    {"key": "b", "value": {"bytesValue": "AP8"}},  # unpadded
                                    {"key": "u", "value": {"bytesValue": "_-8="}},  # URL-safe
                                ],
                                "someFutureField": {"ignored": True},
                                "events": None,
                            }
                        ]
                    }
                ]
            }
        ],
        "unknownTopLevel": 1,
    }
    span = (
        ExportTraceServiceRequest.FromString(traces_from_json(json.dumps(doc)))
        .resource_spans[0]
        .scope_spans[0]
        .spans[0]
    )
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c" and span.parent_span_id == b""
    assert (
        span.kind == trace_pb2.Span.SPAN_KIND_CLIENT
        and span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    )
    assert span.end_time_unix_nano == 1_500_000_000_000_000_000 and span.dropped_attributes_count == 3
    assert [a.value.WhichOneof("value") for a in span.attributes] == [
        "int_value",
        "double_value",
        "bytes_value",
        "bytes_value",
    ]
    assert span.attributes[0].value.int_value == -5 and span.attributes[1].value.double_value == 2.5
    assert (
        span.attributes[2].value.bytes_value == b"\x00\xff"
        and span.attributes[3].value.bytes_value == b"\xff\xef"
    )


SPANS = "resourceSpans[0].scopeSpans[0].spans"


def _with_span(span: dict, position: int = 2) -> bytes:
    spans = [{}] * position + [span]
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()


@pytest.mark.parametrize(
    ("span", "message"),
    [
        ({"traceId": "zz" * 16}, f"{SPANS}[2].traceId: invalid hex"),
        ({"traceId": "ab" * 8}, f"{SPANS}[2].traceId: must be 32 hex digits, got 16"),
        ({"spanId": "a b c d e f 0 1 "}, f"{SPANS}[2].spanId: invalid hex"),
        ({"spanId": 5}, f"{SPANS}[2].spanId: expected a hex string, got number"),
        ({"startTimeUnixNano": "soon"}, f"{SPANS}[2].startTimeUnixNano: invalid integer 'soon'"),
        ({"startTimeUnixNano": -1}, f"{SPANS}[2].startTimeUnixNano: -1 is out of range"),
        ({"endTimeUnixNano": 1.5}, f"{SPANS}[2].endTimeUnixNano: expected an integer, got 1.5"),
        ({"kind": "SPAN_KIND_WHATEVER"}, f"{SPANS}[2].kind: unknown enum value 'SPAN_KIND_WHATEVER'"),
        ({"kind": True}, f"{SPANS}[2].kind: expected an integer, got boolean"),
        ({"name": 3}, f"{SPANS}[2].name: expected a string, got number"),
        ({"attributes": {}}, f"{SPANS}[2].attributes: expected an array, got object"),
        (
            {"attributes": [{"key": "a", "value": {"boolValue": "yes"}}]},
            f"{SPANS}[2].attributes[0].value.boolValue: expected true or false",
        ),
        (
            {"attributes": [{"key": "a", "value": {"bytesValue": "!!"}}]},
            f"{SPANS}[2].attributes[0].value.bytesValue: invalid base64",
        ),
        (
            {"attributes": [{"key": "a", "value": {"intValue": str(2**63)}}]},
            f"{SPANS}[2].attributes[0].value.intValue: {2**63} is out of range",
        ),
        (
            {"events": [{}, {"timeUnixNano": []}]},
            f"{SPANS}[2].events[1].timeUnixNano: expected an integer, got array",
        ),
        ({"links": [{"traceId": "0"}]}, f"{SPANS}[2].links[0].traceId: must be 32 hex digits, got 1"),
        ({"status": []}, f"{SPANS}[2].status: expected an object, got array"),
        ({"flags": 2**32}, f"{SPANS}[2].flags: {2**32} is out of range"),
    ],
)
def test_wrong_types_are_rejected_with_the_json_path(span, message):
    with pytest.raises(WireError) as err:
        traces_from_json(_with_span(span))
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "invalid JSON"),
        (b"", "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        (b"[]", "top level must be an object"),
        (b'{"resourceSpans": {}}', "resourceSpans: expected an array"),
        (b'{"resourceSpans": [3]}', "resourceSpans[0]: expected an object, got number"),
    ],
)
def test_invalid_documents(body, message):
    with pytest.raises(WireError, match=re.escape(message)):
        traces_from_json(body)


def test_hostile_nesting_is_bounded():
    value: dict = {"stringValue": "x"}
    for _ in range(200):
        value = {"arrayValue": {"values": [value]}}
    with pytest.raises(WireError, match="nested deeper than"):
        traces_from_json(_with_span({"attributes": [{"key": "deep", "value": value}]}, 0))


def test_empty_and_null_documents():
    assert traces_from_json(b"{}") == b""
    assert traces_from_json(b'{"resourceSpans": null}') == b""
    assert json.loads(traces_to_json(b"")) == {"resourceSpans": []}


def test_small_messages():
    resp = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=3, error_message="x")
    )
    text = message_to_json(resp)
    assert json.loads(text) == {"partialSuccess": {"rejectedSpans": "3", "errorMessage": "x"}}
    assert message_from_json(ExportTraceServiceResponse, text) == resp
    assert (
        message_from_json(
            ExportTraceServiceResponse, b'{"partial_success": {"rejected_spans": 2}, "x": 1}'
        ).partial_success.rejected_spans
        == 2
    )

    status = status_pb2.Status(code=8, message="memory limit")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay={"seconds": 1}))
    doc = json.loads(message_to_json(status))
    assert doc["code"] == 8 and doc["details"][0]["retryDelay"] == "1s"
    assert message_from_json(status_pb2.Status, message_to_json(status)) == status
    with pytest.raises(WireError, match="google.rpc.Status"):
        message_from_json(status_pb2.Status, b'{"code": "eight"}')


def test_trace_requests_through_the_generic_helpers_use_hex_ids():
    req = make_request(resources=1, spans_per_scope=1, scopes=1)
    text = message_to_json(req)
    assert req.resource_spans[0].scope_spans[0].spans[0].trace_id.hex().encode() in text
    assert message_from_json(ExportTraceServiceRequest, text) == req
