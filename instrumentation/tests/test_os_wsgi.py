"""The paste filter inside real paste.deploy pipelines with oslo.middleware's RequestId."""

from __future__ import annotations

import json

import pytest
import webob
from opentelemetry.trace import SpanKind, StatusCode
from os_apps import load_pipeline

SERVER_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"
GLOBAL_ID = "req-11111111-2222-4333-8444-555555555555"


def _get(app, path, **headers):
    req = webob.Request.blank(path, headers=headers)
    req.environ["REMOTE_ADDR"] = "192.0.2.7"
    return req.get_response(app)


@pytest.mark.parametrize("order", ["before", "after"])
def test_one_server_span_with_route_name_ids_and_identity(spans, tmp_path, order):
    app = load_pipeline(tmp_path, order)
    resp = _get(
        app,
        f"/v2.1/servers/{SERVER_ID}?all_tenants=1",
        traceparent=f"00-{PARENT_TRACE}-{PARENT_SPAN}-01",
        tracestate="vendor=opaque",
        **{
            "X-OpenStack-Request-Id": GLOBAL_ID,
            "User-Agent": "python-novaclient",
            "Host": "nova.example:8774",
        },
    )
    assert resp.status_int == 200
    body = json.loads(resp.body)
    span = spans.one("GET /v2.1/servers/{id}")
    assert span.kind == SpanKind.SERVER
    a = span.attributes
    assert a["http.request.method"] == "GET"
    assert a["url.path"] == f"/v2.1/servers/{SERVER_ID}"
    assert a["url.query"] == "all_tenants=1"
    assert a["url.scheme"] == "http"
    assert a["http.route"] == "/v2.1/servers/{id}"
    assert a["http.response.status_code"] == 200
    assert a["server.address"] == "nova.example" and a["server.port"] == 8774
    assert a["client.address"] == "192.0.2.7"
    assert a["user_agent.original"] == "python-novaclient"
    # Request ids: this request's, and the caller's as global id, whichever side of RequestId we are.
    assert a["openstack.request_id"] == body["request_id"] == resp.headers["x-openstack-request-id"]
    assert a["openstack.global_request_id"] == GLOBAL_ID == body["global_request_id"]
    assert a["openstack.project_id"] == "9a8b7c6d5e4f40312233445566778899"
    assert a["openstack.user_id"] == "1f2e3d4c5b6a47980011223344556677"
    # W3C parent extracted; the app ran inside our span; traceresponse names our span.
    assert f"{span.context.trace_id:032x}" == PARENT_TRACE == body["trace_id"]
    assert f"{span.parent.span_id:016x}" == PARENT_SPAN and span.parent.is_remote
    assert span.context.trace_state.get("vendor") == "opaque"
    assert body["span_id"] == f"{span.context.span_id:016x}"
    assert resp.headers["traceresponse"] == f"00-{PARENT_TRACE}-{body['span_id']}-01"
    assert span.status.status_code == StatusCode.UNSET


def test_without_global_request_id_the_request_id_is_the_global_id(spans, tmp_path):
    app = load_pipeline(tmp_path, "before")
    resp = _get(app, "/v2.0/networks/42")
    span = spans.one("GET /v2.0/networks/{id}")
    rid = resp.headers["x-openstack-request-id"]
    assert span.attributes["openstack.request_id"] == rid
    assert span.attributes["openstack.global_request_id"] == rid
    assert span.parent is None  # no traceparent: a new trace


@pytest.mark.parametrize(
    "headers",
    [
        {"traceparent": "00-xyz-abc-01"},
        {"traceparent": "00-00000000000000000000000000000000-b7ad6b7169203331-01"},
        {"traceparent": "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        {"traceparent": "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"},
        {"traceparent": "\x00\xff" * 40, "tracestate": "=,=,\x7f" * 100},
        {"tracestate": "a=b"},  # tracestate without traceparent
        {"X-OpenStack-Request-Id": "req-not-a-uuid; DROP TABLE"},
        {"X-OpenStack-Request-Id": "x" * 5000, "traceparent": "00-" + "1" * 3000},
    ],
)
def test_malformed_headers_start_a_new_trace_and_never_fail(spans, tmp_path, headers):
    app = load_pipeline(tmp_path, "before")
    resp = _get(app, "/v3/auth/tokens", **headers)
    assert resp.status_int == 200
    span = spans.one("GET /v3/auth/tokens")
    assert span.parent is None
    assert span.context.is_valid
    rid = resp.headers["x-openstack-request-id"]
    assert span.attributes["openstack.global_request_id"] == rid  # the bad inbound id is not used


def test_5xx_and_exceptions_are_errors(spans, tmp_path):
    app = load_pipeline(tmp_path, "after")
    assert _get(app, "/fail").status_int == 503
    fail = spans.one("GET /fail")
    assert fail.status.status_code == StatusCode.ERROR
    assert fail.attributes["error.type"] == "503"

    with pytest.raises(RuntimeError):
        _get(app, "/boom", **{"X-Auth-Token": "gAAAAABtokentokentoken"})
    boom = spans.one("GET /boom")
    assert boom.status.status_code == StatusCode.ERROR
    assert boom.attributes["error.type"] == "RuntimeError"
    event = boom.events[0]
    assert event.name == "exception"
    assert "gAAAAABtokentokentoken" not in event.attributes["exception.message"]
    assert "REDACTED" in event.attributes["exception.message"]


def test_4xx_is_not_a_server_error(spans, tmp_path):
    app = load_pipeline(tmp_path, "after")

    def not_found(environ, start_response):
        start_response("404 Not Found", [])
        return [b""]

    from cobalt_trace_openstack.wsgi import TracingMiddleware

    assert _get(TracingMiddleware(not_found), "/v2/images/abc").status_int == 404
    span = spans.one("GET /v2/images/abc")
    assert span.status.status_code == StatusCode.UNSET
    assert span.attributes["http.response.status_code"] == 404
    del app


def test_streamed_body_span_ends_on_close(spans, tmp_path):
    app = load_pipeline(tmp_path, "after")
    resp = _get(app, "/stream")
    assert resp.body == b"abc"
    span = spans.one("GET /stream")
    assert span.end_time is not None and span.attributes["http.response.status_code"] == 200


def test_unknown_method_and_disabled_filter(spans, tmp_path):
    from cobalt_trace_openstack.wsgi import TracingMiddleware, filter_factory

    app = load_pipeline(tmp_path, "after")
    req = webob.Request.blank("/v3/projects", method="FROB")
    assert req.get_response(app).status_int == 200
    span = spans.one("HTTP /v3/projects")
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "FROB"

    spans.exporter.clear()
    disabled = filter_factory({}, enabled="false")(load_pipeline(tmp_path, "after"))
    assert isinstance(disabled, TracingMiddleware) and not disabled.enabled
    assert webob.Request.blank("/v3/projects").get_response(disabled).status_int == 200
    assert len(spans.named("GET /v3/projects")) == 1  # only the inner filter's span, not a second


def test_nested_filter_makes_an_internal_child(spans, tmp_path):
    from cobalt_trace_openstack.wsgi import TracingMiddleware

    app = TracingMiddleware(load_pipeline(tmp_path, "after"))
    _get(app, "/v2.1/flavors")
    got = spans.named("GET /v2.1/flavors")
    assert sorted(s.kind.name for s in got) == ["INTERNAL", "SERVER"]
    outer = next(s for s in got if s.kind == SpanKind.SERVER)
    inner = next(s for s in got if s.kind == SpanKind.INTERNAL)
    assert inner.parent.span_id == outer.context.span_id


def test_captured_headers_are_recorded_but_credentials_redacted(spans, tmp_path):
    app = load_pipeline(tmp_path, "before", capture="X-Forwarded-For, X-Auth-Token, Cookie")
    _get(
        app,
        "/v2.1",
        **{"X-Forwarded-For": "198.51.100.9", "X-Auth-Token": "gAAAAABsecret123", "Cookie": "s=1"},
    )
    a = spans.one("GET /v2.1").attributes
    assert a["http.request.header.x-forwarded-for"] == ("198.51.100.9",)
    assert a["http.request.header.x-auth-token"] == ("REDACTED",)
    assert a["http.request.header.cookie"] == ("REDACTED",)


def test_route_templates():
    from cobalt_trace_openstack.naming import route_template

    assert route_template(f"/v2.1/servers/{SERVER_ID}/action") == "/v2.1/servers/{id}/action"
    assert route_template("/v2/images/5d1e8c9a2b3f4e6d8c7b1a2f3e4d5c6b/file") == "/v2/images/{id}/file"
    assert route_template("/v3/users/3f2504e04f8911d39a0c0305e82c3301/projects") == "/v3/users/{id}/projects"
    assert route_template("/v2.1/os-hypervisors/17/servers") == "/v2.1/os-hypervisors/{id}/servers"
    assert route_template("/v1/AUTH_0123abcd4567/container") == "/v1/AUTH_{id}/container"
    assert route_template("/v2.0/ports/detail") == "/v2.0/ports/detail"
    assert route_template("/v3/auth/tokens") == "/v3/auth/tokens"
    assert route_template("/deadbeef/facade") == "/deadbeef/facade"  # words, not ids
    assert route_template("") == "/"


@pytest.mark.parametrize("extra", [{}, {"baggage": "k=v"}, {"tracestate": "congo=t61rcWkgMzE"}])
def test_fast_and_generic_extraction_agree_and_respect_the_callers_sampling(spans, tmp_path, extra):
    app = load_pipeline(tmp_path, "after")
    resp = _get(app, "/v2.1/flavors", traceparent=f"00-{PARENT_TRACE}-{PARENT_SPAN}-01", **extra)
    span = spans.one("GET /v2.1/flavors")
    assert f"{span.context.trace_id:032x}" == PARENT_TRACE and f"{span.parent.span_id:016x}" == PARENT_SPAN
    assert span.parent.is_remote and resp.headers["traceresponse"].endswith("-01")
    if "tracestate" in extra:
        assert span.context.trace_state.get("congo") == "t61rcWkgMzE"
    spans.exporter.clear()
    # The caller decided not to sample: the parent-based sampler follows, nothing is exported.
    resp = _get(app, "/v2.1/flavors", traceparent=f"00-{PARENT_TRACE}-{PARENT_SPAN}-00", **extra)
    assert resp.status_int == 200
    assert spans.named("GET /v2.1/flavors") == []
    assert resp.headers["traceresponse"].endswith("-00")


def test_request_id_set_by_the_service_itself_is_read_from_the_response(spans):
    """Glance has no RequestId filter: its context middleware returns the id in the response."""
    from cobalt_trace_openstack.wsgi import TracingMiddleware

    rid = "req-0b9f4a6e-5f7d-4e1c-9a7b-3c2d1e0f9a8b"

    def glance_like(environ, start_response):
        start_response("200 OK", [("X-Openstack-Request-Id", rid)])
        return [b"[]"]

    assert _get(TracingMiddleware(glance_like), "/v2/images").headers["x-openstack-request-id"] == rid
    span = spans.one("GET /v2/images")
    assert span.attributes["openstack.request_id"] == rid == span.attributes["openstack.global_request_id"]


def test_a_failing_tracer_never_fails_the_request(tmp_path):
    from opentelemetry.trace import NoOpTracerProvider

    from cobalt_trace_openstack.wsgi import TracingMiddleware

    class BrokenTracer:
        def start_span(self, *args, **kwargs):
            raise RuntimeError("tracer broken")

    class BrokenProvider(NoOpTracerProvider):
        def get_tracer(self, *args, **kwargs):
            return BrokenTracer()

    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"ok"]

    mw = TracingMiddleware(app, tracer_provider=BrokenProvider())
    resp = _get(mw, "/v2.1/servers")
    assert resp.status_int == 200 and resp.body == b"ok" and calls == ["/v2.1/servers"]
    assert "traceresponse" not in resp.headers
