"""attributes processor: every action, include/exclude matching, decode only what is needed."""

from __future__ import annotations

import asyncio
import hashlib
import struct

import pytest
from attrproc_testkit import (
    Sink,
    attrs_dict,
    config,
    config_errors,
    decoded,
    raw_spans,
    request,
    settings,
    span,
    to_batch,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from cobalt_trace.components.processors.attributes import processor as attributes_module
from cobalt_trace.components.processors.attributes.config import AttributesConfig
from cobalt_trace.components.processors.attributes.factory import FACTORY
from cobalt_trace.pipeline.client import ClientInfo, set_client
from cobalt_trace.pipeline.errors import ConfigError

SERVER, CLIENT, INTERNAL = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_INTERNAL


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def decode_calls(monkeypatch):
    calls = []
    real = attributes_module.decode_span

    def counting(data):
        calls.append(data)
        return real(data)

    monkeypatch.setattr(attributes_module, "decode_span", counting)
    return calls


def run_actions(actions: list[dict], attrs: dict, client: ClientInfo | None = None, **match) -> dict:
    """Attributes of one span after the processor ran on it."""
    out = process(
        {"actions": actions, **match},
        request(({"service.name": "svc"}, [("l", "", [span("op", SERVER, attrs)])])),
        client,
    )
    return attrs_dict(decoded(out).resource_spans[0].scope_spans[0].spans[0].attributes)


def process(raw: dict, req, client: ClientInfo | None = None):
    async def run():
        sink = Sink()
        proc = FACTORY.create(settings("attributes"), config(AttributesConfig, raw), sink)
        token = set_client(client) if client is not None else None
        try:
            await proc.consume(to_batch(req))
        finally:
            if token is not None:
                token.var.reset(token)
        return sink.batches[0]

    return asyncio.run(run())


# -- actions ------------------------------------------------------------------------------------
def test_insert_update_upsert():
    actions = [
        {"key": "new", "value": "v", "action": "insert"},
        {"key": "keep", "value": "changed", "action": "insert"},
        {"key": "upd", "value": 7, "action": "update"},
        {"key": "absent", "value": 1, "action": "update"},
        {"key": "ups", "value": True, "action": "UPSERT"},
        {"key": "ups2", "value": 1.5, "action": "upsert"},
        {"key": "list", "value": ["a", 1], "action": "insert"},
    ]
    got = run_actions(actions, {"keep": "orig", "upd": "x", "ups": "y"})
    assert got == {"keep": "orig", "upd": 7, "ups": True, "new": "v", "ups2": 1.5, "list": ["a", 1]}
    assert list(got) == ["keep", "upd", "ups", "new", "ups2", "list"]  # updates in place, inserts append


def test_from_attribute_and_default_value():
    actions = [
        {"key": "copy", "from_attribute": "src", "action": "insert"},
        {"key": "nothing", "from_attribute": "missing", "action": "insert"},
        {"key": "fallback", "from_attribute": "missing", "default_value": "dflt", "action": "upsert"},
        {"key": "const", "default_value": 3, "action": "insert"},
    ]
    assert run_actions(actions, {"src": 42}) == {"src": 42, "copy": 42, "fallback": "dflt", "const": 3}


def test_from_context_sources():
    client = ClientInfo(
        address="192.0.2.10:36000",
        metadata={"x-tenant": ("a", "b"), "x-plain": ("p",)},
        auth={"subject": "alice", "groups": ["admin", "ops"]},
    )
    actions = [
        {"key": "tenant", "from_context": "metadata.X-Tenant", "action": "insert"},
        {"key": "addr", "from_context": "client.address", "action": "insert"},
        {"key": "sub", "from_context": "auth.subject", "action": "insert"},
        {"key": "groups", "from_context": "auth.groups", "action": "insert"},
        {"key": "plain", "from_context": "x-plain", "action": "insert"},
        {"key": "none", "from_context": "metadata.absent", "action": "insert"},
    ]
    got = run_actions(actions, {}, client)
    assert got == {"tenant": "a;b", "addr": "192.0.2.10", "sub": "alice", "groups": "admin;ops", "plain": "p"}


def test_delete_by_key_and_pattern():
    actions = [{"key": "password", "pattern": "^secret\\.", "action": "delete"}]
    got = run_actions(
        actions, {"password": "x", "secret.a": 1, "secret.b": 2, "keep.secret.c": 3, "user": "u"}
    )
    assert got == {"keep.secret.c": 3, "user": "u"}


def test_hash_values_like_upstream():
    actions = [
        {"key": "s", "action": "hash"},
        {"pattern": "^n_", "action": "hash"},
        {"key": "empty", "action": "hash"},
        {"key": "arr", "action": "hash"},
        {"key": "absent", "action": "hash"},
    ]
    got = run_actions(
        actions, {"s": "user@example.com", "n_i": 42, "n_d": 1.5, "n_b": True, "empty": "", "arr": ["x"]}
    )
    assert got == {
        "s": sha(b"user@example.com"),
        "n_i": sha(struct.pack("<q", 42)),
        "n_d": sha(struct.pack("<d", 1.5)),
        "n_b": sha(b"\x01"),
        "empty": "",
        "arr": "",  # nothing to hash: upstream sets the empty string
    }


def test_extract_named_groups_overwrite():
    actions = [
        {
            "key": "http.url",
            "pattern": r"^/v2\.1/(?P<project>\w+)/(?<resource>servers|flavors)",
            "action": "extract",
        }
    ]
    got = run_actions(actions, {"http.url": "/v2.1/p42/servers/detail", "resource": "old"})
    assert got == {"http.url": "/v2.1/p42/servers/detail", "resource": "servers", "project": "p42"}
    assert run_actions(actions, {"http.url": "/other"}) == {"http.url": "/other"}
    assert run_actions(actions, {"http.url": 5}) == {"http.url": 5}  # only strings are extracted from


def test_convert():
    actions = [
        {"key": "a", "converted_type": "int", "action": "convert"},
        {"key": "b", "converted_type": "int", "action": "convert"},
        {"key": "c", "converted_type": "double", "action": "convert"},
        {"key": "d", "converted_type": "string", "action": "convert"},
        {"key": "e", "converted_type": "string", "action": "convert"},
        {"key": "f", "converted_type": "int", "action": "convert"},
        {"key": "g", "converted_type": "double", "action": "convert"},
        {"key": "h", "converted_type": "int", "action": "convert"},
    ]
    got = run_actions(
        actions, {"a": "123", "b": "12x", "c": "2.5", "d": 1.0, "e": True, "f": 9.9, "g": " 1", "h": False}
    )
    assert got == {"a": 123, "b": "12x", "c": 2.5, "d": "1", "e": "true", "f": 9, "g": " 1", "h": 0}


# -- include / exclude --------------------------------------------------------------------------
def mixed_request():
    return request(
        (
            {"service.name": "nova-api", "cluster": "cp"},
            [
                (
                    "wsgi",
                    "1.0",
                    [span("GET /servers", SERVER, {"code": 200}), span("db", CLIENT, {"code": 1})],
                ),
                ("rpc", "2.0", [span("GET /flavors", INTERNAL, {"code": "200"})]),
            ],
        ),
        ({"service.name": "neutron"}, [("wsgi", "1.0", [span("GET /ports", SERVER, {"code": 200})])]),
    )


def marked(raw_match: dict) -> list[str]:
    """Names of the spans that got the `hit` attribute."""
    out = process(
        {"actions": [{"key": "hit", "value": True, "action": "insert"}], **raw_match}, mixed_request()
    )
    return [
        s.name
        for rs in decoded(out).resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
        if any(kv.key == "hit" for kv in s.attributes)
    ]


ALL_SPANS = ["GET /servers", "db", "GET /flavors", "GET /ports"]


@pytest.mark.parametrize(
    "match, expected",
    [
        ({}, ALL_SPANS),
        (
            {"include": {"match_type": "strict", "services": ["nova-api"]}},
            ["GET /servers", "db", "GET /flavors"],
        ),
        ({"include": {"match_type": "regexp", "services": ["^neu"]}}, ["GET /ports"]),
        (
            {"include": {"match_type": "regexp", "span_names": ["^GET /(servers|ports)"]}},
            ["GET /servers", "GET /ports"],
        ),
        ({"include": {"match_type": "regexp", "span_names": ["vers"]}}, ["GET /servers"]),  # unanchored
        (
            {"exclude": {"match_type": "strict", "span_kinds": ["SPAN_KIND_CLIENT"]}},
            ["GET /servers", "GET /flavors", "GET /ports"],
        ),
        ({"include": {"match_type": "regexp", "span_kinds": ["INTERNAL|CLIENT"]}}, ["db", "GET /flavors"]),
        (
            {"include": {"match_type": "strict", "attributes": [{"key": "code", "value": 200}]}},
            ["GET /servers", "GET /ports"],
        ),
        (
            {"include": {"match_type": "strict", "attributes": [{"key": "code", "value": "200"}]}},
            ["GET /flavors"],
        ),
        (
            {"include": {"match_type": "regexp", "attributes": [{"key": "code", "value": "^20"}]}},
            ["GET /servers", "GET /flavors", "GET /ports"],
        ),
        ({"include": {"match_type": "strict", "attributes": [{"key": "code"}]}}, ALL_SPANS),
        (
            {"include": {"match_type": "strict", "resources": [{"key": "cluster", "value": "cp"}]}},
            ["GET /servers", "db", "GET /flavors"],
        ),
        (
            {"include": {"match_type": "strict", "libraries": [{"name": "wsgi"}]}},
            ["GET /servers", "db", "GET /ports"],
        ),
        ({"include": {"match_type": "strict", "libraries": [{"name": "rpc", "version": "1.0"}]}}, []),
        (
            {"include": {"match_type": "strict", "libraries": [{"name": "rpc", "version": "2.0"}]}},
            ["GET /flavors"],
        ),
        (
            {
                "include": {"match_type": "strict", "services": ["nova-api"]},
                "exclude": {"match_type": "strict", "span_names": ["db"]},
            },
            ["GET /servers", "GET /flavors"],
        ),
        (
            {
                "include": {
                    "match_type": "regexp",
                    "span_names": ["^GET"],
                    "regexp": {"cacheenabled": True, "cachemaxnumentries": 1},
                },
                "exclude": {"match_type": "strict", "services": ["neutron"]},
            },
            ["GET /servers", "GET /flavors"],
        ),
        (
            {
                "include": {
                    "match_type": "strict",
                    "services": ["nova-api"],
                    "span_kinds": ["SPAN_KIND_SERVER"],
                }
            },
            ["GET /servers"],
        ),
    ],
)
def test_include_exclude(match, expected):
    assert marked(match) == expected


def test_only_spans_the_actions_apply_to_are_decoded(decode_calls):
    req = mixed_request()
    batch_spans = raw_spans(to_batch(req))
    raw = {"actions": [{"key": "hit", "value": 1, "action": "insert"}]}

    out = process({**raw, "include": {"match_type": "strict", "services": ["neutron"]}}, req)
    assert decode_calls == [batch_spans[3]]  # nova-api spans were never decoded
    assert raw_spans(out)[:3] == batch_spans[:3]  # and are byte-identical

    decode_calls.clear()
    out = process({**raw, "exclude": {"match_type": "regexp", "span_names": ["^GET"]}}, req)
    assert decode_calls == [batch_spans[1]]  # names come from a two-field view; only "db" is decoded
    assert [s != b for s, b in zip(raw_spans(out), batch_spans, strict=True)] == [False, True, False, False]

    decode_calls.clear()
    process({**raw, "include": {"match_type": "strict", "attributes": [{"key": "code", "value": 1}]}}, req)
    assert len(decode_calls) == 4  # matching on attributes needs every span decoded, once each


def test_unchanged_spans_keep_the_batch_bytes():
    async def run():
        sink = Sink()
        proc = FACTORY.create(
            settings("attributes"),
            config(AttributesConfig, {"actions": [{"key": "absent", "action": "delete"}]}),
            sink,
        )
        batch = to_batch(mixed_request())
        original = batch.to_bytes()
        await proc.consume(batch)
        assert sink.batches[0].to_bytes() is original
        assert proc.mutates_data is True

    asyncio.run(run())


# -- configuration errors -----------------------------------------------------------------------
P = "processors::test::"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({}, P + 'actions: missing required field "actions"; give at least one action'),
        ({"actions": [{"key": "a", "value": 1}]}, P + "actions[0]::action: missing action;"),
        (
            {"actions": [{"key": "a", "action": "rename"}]},
            P + "actions[0]::action: action 'rename' is not supported",
        ),
        ({"actions": [{"action": "hash"}]}, P + "actions[0]: key and pattern missing for hash"),
        ({"actions": [{"action": "delete"}]}, P + "actions[0]: key and pattern missing for delete"),
        (
            {"actions": [{"key": "a", "action": "extract"}]},
            P + "actions[0]::pattern: `extract` needs `pattern` with named groups",
        ),
        (
            {"actions": [{"key": "a", "pattern": "(x)", "action": "extract"}]},
            P + "actions[0]::pattern: `extract` needs `pattern` with named groups",
        ),
        (
            {"actions": [{"key": "a", "pattern": "(?P<n>x)(y)", "action": "extract"}]},
            P + "actions[0]::pattern: every group",
        ),
        (
            {"actions": [{"key": "a", "pattern": "(", "action": "delete"}]},
            P + "actions[0]::pattern: invalid regular expression '('",
        ),
        ({"actions": [{"key": "a", "action": "insert"}]}, P + 'actions[0]: insert needs one of "value"'),
        (
            {"actions": [{"value": 1, "action": "insert"}]},
            P + 'actions[0]::key: missing required field "key"',
        ),
        (
            {"actions": [{"key": "a", "value": 1, "from_context": "x", "action": "upsert"}]},
            P + "actions[0]: upsert takes only one value source",
        ),
        ({"actions": [{"key": "a", "action": "convert"}]}, P + "actions[0]::converted_type: missing"),
        (
            {"actions": [{"key": "a", "converted_type": "bool", "action": "convert"}]},
            P + "actions[0]::converted_type: invalid value 'bool'",
        ),
        (
            {"actions": [{"key": "a", "value": 1, "converted_type": "int", "action": "insert"}]},
            P + "actions[0]::converted_type: only used by convert",
        ),
        (
            {"actions": [{"key": "a", "action": "delete"}], "include": {"services": ["x"]}},
            P + "include::match_type: missing; expected 'strict' or 'regexp'",
        ),
        (
            {
                "actions": [{"key": "a", "action": "delete"}],
                "exclude": {"match_type": "fuzzy", "services": ["x"]},
            },
            P + "exclude::match_type: unrecognized value 'fuzzy'",
        ),
        (
            {
                "actions": [{"key": "a", "action": "delete"}],
                "include": {"match_type": "strict", "span_kinds": ["server"]},
            },
            P
            + "include::span_kinds: unknown span kind 'server'; expected one of SPAN_KIND_CLIENT, SPAN_KIND_CONSUMER",
        ),
        (
            {"actions": [{"key": "a", "action": "delete"}], "include": {"match_type": "strict"}},
            P + "include: at least one of",
        ),
        (
            {
                "actions": [{"key": "a", "action": "delete"}],
                "include": {"match_type": "regexp", "attributes": [{"key": "k", "value": 1}]},
            },
            P + "include::attributes[0]::value: match_type=regexp for 'k' only supports strings",
        ),
        (
            {
                "actions": [{"key": "a", "action": "delete"}],
                "include": {"match_type": "regexp", "span_names": ["[a"]},
            },
            P + "include::span_names: invalid regular expression '[a'",
        ),
        (
            {
                "actions": [{"key": "a", "action": "delete"}],
                "include": {"match_type": "strict", "log_bodies": ["x"]},
            },
            P + "include::log_bodies: should not be specified for trace spans",
        ),
    ],
)
def test_config_errors(raw, message):
    errors = config_errors(AttributesConfig, raw)
    assert any(e.startswith(message) for e in errors), errors


def test_create_rejects_an_invalid_config_object():
    with pytest.raises(ConfigError, match="missing required field"):
        FACTORY.create(settings("attributes"), AttributesConfig(), Sink())
