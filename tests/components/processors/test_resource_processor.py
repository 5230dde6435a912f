"""resource processor: actions on resources, span bytes untouched, one decode per distinct resource."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from attrproc_testkit import (
    Sink,
    attrs_dict,
    config,
    config_errors,
    decoded,
    kvs,
    raw_spans,
    request,
    settings,
    span,
    to_batch,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from cobalt_trace.components.processors._attraction import ActionConfig
from cobalt_trace.components.processors.resource import processor as resource_module
from cobalt_trace.components.processors.resource.config import ResourceConfig
from cobalt_trace.components.processors.resource.factory import FACTORY
from cobalt_trace.components.processors.resource.processor import ResourceProcessor
from cobalt_trace.pipeline.client import ClientInfo, set_client
from cobalt_trace.pipeline.errors import ConfigError

UPSERT_CLUSTER = {"attributes": [{"key": "cluster", "value": "control-plane", "action": "upsert"}]}


def make(raw: dict, sink: Sink, **kw):
    if kw:
        return ResourceProcessor(settings("resource"), config(ResourceConfig, raw), sink, **kw)
    return FACTORY.create(settings("resource"), config(ResourceConfig, raw), sink)


@pytest.fixture
def decode_calls(monkeypatch):
    calls = []
    real = resource_module.decode_resource

    def counting(data):
        calls.append(data)
        return real(data)

    monkeypatch.setattr(resource_module, "decode_resource", counting)
    return calls


def rich_request():
    spans_a = [
        span("GET /v2.1/servers", Span.SPAN_KIND_SERVER, {"http.status_code": 200, "user": "u1"}),
        span("nova.db", Span.SPAN_KIND_CLIENT, {"db.system": "mysql"}, status=Status(code=2, message="boom")),
    ]
    spans_a[1].events.add(name="exception", time_unix_nano=5).attributes.extend(kvs({"k": "v"}))
    spans_b = [span("neutron.port", Span.SPAN_KIND_INTERNAL, {"n": 1.5})]
    return request(
        ({"service.name": "nova-api", "cluster": "old"}, [("wsgi", "1.0", spans_a)]),
        ({"service.name": "neutron-server"}, [("rpc", "", spans_b)]),
    )


def test_upsert_cluster_changes_only_the_resource():
    async def run():
        sink = Sink()
        proc = make(UPSERT_CLUSTER, sink)
        assert proc.mutates_data is True
        req = rich_request()
        batch = to_batch(req)
        before = raw_spans(batch)
        await proc.consume(batch)
        out = sink.batches[0]
        assert raw_spans(out) == before  # every span byte-identical
        expected = req  # the processor worked on the batch's bytes, `req` itself is untouched
        # the only difference: the resources' cluster attribute (updated in place / appended)
        expected.resource_spans[0].resource.attributes[1].value.string_value = "control-plane"
        expected.resource_spans[1].resource.attributes.extend(kvs({"cluster": "control-plane"}))
        got = decoded(out)
        for rs_got, rs_want in zip(got.resource_spans, expected.resource_spans, strict=True):
            assert attrs_dict(rs_got.resource.attributes) == attrs_dict(rs_want.resource.attributes)
        assert got == expected
        assert [kv.key for kv in got.resource_spans[0].resource.attributes] == ["service.name", "cluster"]

    asyncio.run(run())


def test_each_distinct_resource_is_decoded_once(decode_calls):
    async def run():
        sink = Sink()
        proc = make(UPSERT_CLUSTER, sink)
        for _ in range(5):
            await proc.consume(to_batch(rich_request()))  # same two resources every time
        assert len(decode_calls) == 2
        assert (proc.cache.misses, proc.cache.hits) == (2, 8)
        outs = {b.to_bytes() for b in sink.batches}
        assert len({decoded(b).resource_spans[0].resource.SerializeToString() for b in sink.batches}) == 1
        assert len(outs) == 5  # different spans, same rewritten resources

    asyncio.run(run())


def test_cache_is_bounded(decode_calls):
    async def run():
        proc = make(UPSERT_CLUSTER, Sink(), cache_entries=2)
        for i in range(5):
            await proc.consume(to_batch(request(({"service.name": f"s{i}"}, [("l", "", [span()])]))))
        assert len(proc.cache) == 2 and len(decode_calls) == 5

    asyncio.run(run())


def test_unchanged_resources_leave_the_batch_bytes_alone():
    async def run():
        sink = Sink()
        proc = make({"attributes": [{"key": "absent", "value": 1, "action": "update"}]}, sink)
        batch = to_batch(rich_request())
        original = batch.to_bytes()
        await proc.consume(batch)
        assert sink.batches[0].to_bytes() is original

    asyncio.run(run())


def test_from_context_values_are_part_of_the_cache_key(decode_calls):
    async def run():
        sink = Sink()
        proc = make(
            {
                "attributes": [
                    {"key": "tenant", "from_context": "metadata.x-tenant", "action": "upsert"},
                    {"key": "peer", "from_context": "client.address", "action": "insert"},
                    {
                        "key": "user",
                        "from_context": "auth.subject",
                        "default_value": "anonymous",
                        "action": "insert",
                    },
                ]
            },
            sink,
        )
        clients = [
            ClientInfo(
                address="10.1.2.3:4567", metadata={"x-tenant": ("t1", "t2")}, auth={"subject": "alice"}
            ),
            ClientInfo(address="[fd00::1]:443", metadata={"x-tenant": ("t3",)}),
            ClientInfo(
                address="10.1.2.3:4567", metadata={"x-tenant": ("t1", "t2")}, auth={"subject": "alice"}
            ),
        ]
        for client in clients:
            token = set_client(client)
            try:
                await proc.consume(to_batch(request(({"service.name": "svc"}, [("l", "", [span()])]))))
            finally:
                token.var.reset(token)
        got = [attrs_dict(decoded(b).resource_spans[0].resource.attributes) for b in sink.batches]
        assert got[0] == {"service.name": "svc", "tenant": "t1;t2", "peer": "10.1.2.3", "user": "alice"}
        assert got[1] == {"service.name": "svc", "tenant": "t3", "peer": "fd00::1", "user": "anonymous"}
        assert got[2] == got[0]
        assert len(decode_calls) == 2  # the third request reused the first one's rewrite

    asyncio.run(run())


def test_every_action_type_on_resources():
    async def run():
        sink = Sink()
        actions = [
            {"key": "k8s.pod.name", "pattern": "^(?P<deployment>[a-z-]+)-[0-9a-f]+$", "action": "extract"},
            {"key": "replicas", "converted_type": "int", "action": "convert"},
            {"key": "host.ip", "action": "hash"},
            {"pattern": "^tmp\\.", "action": "delete"},
            {"key": "region", "value": "eu-de-1", "action": "insert"},
            {"key": "service.name", "value": "ignored", "action": "insert"},
            {"key": "service.namespace", "from_attribute": "deployment", "action": "upsert"},
            {"key": "missing", "value": "x", "action": "update"},
        ]
        proc = make({"attributes": actions}, sink)
        res = {
            "service.name": "nova",
            "k8s.pod.name": "nova-api-5f7c9",
            "replicas": "3",
            "host.ip": "10.0.0.7",
        }
        res.update({"tmp.a": 1, "tmp.b": True})
        await proc.consume(to_batch(request((res, [("l", "", [span()])]))))
        got = attrs_dict(decoded(sink.batches[0]).resource_spans[0].resource.attributes)
        assert got == {
            "service.name": "nova",
            "k8s.pod.name": "nova-api-5f7c9",
            "replicas": 3,
            "host.ip": hashlib.sha256(b"10.0.0.7").hexdigest(),
            "deployment": "nova-api",
            "region": "eu-de-1",
            "service.namespace": "nova-api",
        }

    asyncio.run(run())


def test_config_errors():
    assert config_errors(ResourceConfig, {}) == [
        'processors::test::attributes: missing required field "attributes"; give at least one action'
    ]
    errors = config_errors(ResourceConfig, {"attributes": [{"key": "a", "action": "rename"}, {"value": 1}]})
    assert errors == [
        "processors::test::attributes[0]::action: action 'rename' is not supported; expected one of "
        "insert, update, upsert, delete, hash, extract, convert",
        "processors::test::attributes[1]::action: missing action; expected one of "
        "insert, update, upsert, delete, hash, extract, convert",
    ]
    with pytest.raises(ConfigError, match="key and pattern missing for hash"):
        FACTORY.create(settings("resource"), ResourceConfig(attributes=[ActionConfig(action="hash")]), Sink())
