"""TraceQL parsing, SQL narrowing and exact evaluation, on hand-made traces."""

from __future__ import annotations

import pytest

from cobalt_trace.store.traceql import TraceQLError, compile_candidates, evaluate_trace, parse

from .helpers import NOW, span


def trace():
    """root(nova-api server) → child(client) → grandchild(neutron-server server, error)."""
    return [
        span("a1", "1", name="POST /servers", service="nova-api", attributes={"http.route": "/servers"}),
        span(
            "a1",
            "2",
            parent="1",
            name="GET",
            service="nova-api",
            kind="Client",
            timestamp=NOW + 1000,
            attributes={"http.response.status_code": "500", "peer": "neutron"},
        ),
        span(
            "a1",
            "3",
            parent="2",
            name="GET /ports",
            service="neutron-server",
            timestamp=NOW + 2000,
            duration=600_000_000,
            status_code="Error",
            status_message="boom",
            resource_attributes={"service.name": "neutron-server", "cluster": "cp"},
        ),
    ]


def matches(q: str) -> int:
    m = evaluate_trace(parse(q), trace(), spans_per_spanset=10)
    return 0 if m is None else m.matched


@pytest.mark.parametrize(
    "query, matched",
    [
        ("{}", 3),
        ('{resource.service.name = "nova-api"}', 2),
        ('{.service.name = "neutron-server"}', 1),  # unscoped reaches resource attributes
        ("{status = error}", 1),
        ("{status != error}", 2),
        ('{statusMessage = "boom"}', 1),
        ("{kind = client}", 1),
        ("{duration > 500ms}", 1),
        ("{duration >= 600ms && duration <= 0.6s}", 1),
        ("{span.http.response.status_code >= 500}", 1),
        ('{span.http.response.status_code = "500"}', 1),
        ("{span.http.response.status_code = 500}", 1),
        ('{span.peer != "x"}', 1),  # != only matches spans that have the attribute
        ("{span.peer = nil}", 2),
        ("{span.peer != nil}", 1),
        ('{name =~ "GET.*"}', 2),
        ('{name =~ "GET"}', 1),  # anchored: "GET /ports" does not match
        ('{name !~ "GET.*"}', 1),
        ('{rootServiceName = "nova-api" && status = error}', 1),
        ('{rootName = "POST /servers"}', 3),
        ("{traceDuration > 500ms}", 3),
        ("{traceDuration > 1s}", 0),
        ('{kind = server} >> {resource.cluster = "cp"}', 1),
        ('{kind = server} > {resource.cluster = "cp"}', 0),  # grandchild, not child
        ("{kind = client} > {status = error}", 1),
        ("{status = error} && {kind = client}", 2),
        ("{status = error} && {kind = producer}", 0),
        ("{status = error} || {kind = producer}", 1),
        ('({name = "GET"} || {status = error}) && {kind = server}', 3),
        ("{} | count() > 2", 3),
        ("{} | count() > 3", 0),
        ('{ !(name = "GET") }', 2),
        ("{ true }", 3),
    ],
)
def test_semantics(query, matched):
    assert matches(query) == matched


def test_select_returns_the_requested_attributes():
    m = evaluate_trace(parse("{status = error} | select(resource.cluster, span.missing, name)"), trace())
    assert m.spans[0].attributes == {"resource.cluster": "cp", "name": "GET /ports"}
    assert m.root_service == "nova-api" and m.root_name == "POST /servers"
    assert m.services == {"nova-api": (2, 0), "neutron-server": (1, 1)}


@pytest.mark.parametrize(
    "query, column",
    [
        ("{", 2),
        ("{ name = }", 10),
        ('{ duration > "x" }', 14),
        ("{ .a = 1 } |", 13),
        ("foo", 1),
        ("{ status = 5 }", 12),
        ('{ .a =~ "(" }', 9),
        ("{ .a = 1 } | count() > x", 24),
        ("{ name = 'x' }", 10),
        ("", 1),
    ],
)
def test_errors_name_the_column(query, column):
    with pytest.raises(TraceQLError) as info:
        parse(query)
    assert info.value.column == column
    assert f"col {column}" in str(info.value)


def test_sql_is_exact_for_span_filters_and_parameterised():
    cand = compile_candidates(parse('{resource.service.name = "nova-api" && duration > 500ms}'))
    assert cand.exact
    assert "ServiceName = {p0:String}" in cand.where and cand.params["p0"] == "nova-api"
    assert cand.params["p1"] == 500_000_000
    assert "'" not in cand.where  # values never spliced into the text


def test_sql_widens_what_it_cannot_express():
    assert not compile_candidates(parse("{kind = server} >> {status = error}")).exact
    widened = compile_candidates(parse('{rootName = "x" && duration > 1s}'))
    assert not widened.exact and "Duration" in widened.where
    negated = compile_candidates(parse('{ !(name = "a" && rootName = "b") }'))
    assert negated.where == "" and not negated.exact  # NOT of a widened predicate is dropped
