"""Credentials never reach a span or our log lines, whatever path they take and whatever is captured.

The session fixture asked the requests instrumentation to capture *every* request and response
header (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_*=".*"), and the paste filter here
captures every credential header by name: the worst configuration an operator can choose.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import oslo_messaging as om
import pytest
import requests
from keystoneauth1 import session as ks_session
from os_rpc import AgentEndpoint, RequestContextSerializer, make_conf
from oslo_context import context as oslo_context
from oslo_middleware import RequestId

from cobalt_trace_openstack.wsgi import TracingMiddleware

FERNET = "gAAAAAB" + base64.urlsafe_b64encode(secrets.token_bytes(120)).decode().rstrip("=")
SUBJECT = "gAAAAAB" + base64.urlsafe_b64encode(secrets.token_bytes(90)).decode().rstrip("=")
SERVICE = secrets.token_hex(16)
BEARER = secrets.token_urlsafe(40)
COOKIE = secrets.token_urlsafe(24)
PASSWORD = "S3cr3t-" + secrets.token_hex(6)
APP_CRED = secrets.token_urlsafe(32)
BASIC = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
ALL_SECRETS = [FERNET, SUBJECT, SERVICE, BEARER, COOKIE, PASSWORD, APP_CRED, BASIC]

CAPTURE = "X-Auth-Token, X-Subject-Token, X-Service-Token, Authorization, Cookie, Proxy-Authorization, X-Request-Note"


def keystone_like_app(environ, start_response):
    """Returns the issued token in X-Subject-Token and a cookie, like Keystone and Horizon do."""
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError(f"token {environ.get('HTTP_X_AUTH_TOKEN')} rejected")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response(
        "201 Created",
        [
            ("X-Subject-Token", SUBJECT),
            ("Set-Cookie", f"session={COOKIE}"),
            ("Content-Type", "application/json"),
        ],
    )
    return [b"{}"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def keystone(os_tracing):
    app = TracingMiddleware(RequestId(keystone_like_app), capture_headers=[h for h in CAPTURE.split(",")])
    server = make_server("127.0.0.1", 0, app, server_class=WSGIServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_no_credential_reaches_any_span_or_log_line(spans, keystone, caplog):
    caplog.set_level(logging.DEBUG)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"password": PASSWORD}}}}}
    host = keystone.split("//")[1]

    # 1. Inbound and outgoing HTTP with every credential header, secrets in the query and user-info.
    resp = requests.post(
        f"http://admin:{PASSWORD}@{host}/v3/auth/tokens?token={FERNET}&application_credential_secret={APP_CRED}",
        json=body,
        headers={
            "X-Auth-Token": FERNET,
            "X-Service-Token": SERVICE,
            "Authorization": f"Bearer {BEARER}",
            "Cookie": f"session={COOKIE}",
            "Proxy-Authorization": f"Basic {BASIC}",
            "X-Request-Note": "harmless",
        },
        timeout=10,
    )
    assert resp.status_code == 201 and resp.headers["X-Subject-Token"] == SUBJECT
    # 2. keystoneauth, as services call each other.
    sess = ks_session.Session()
    sess.get(f"{keystone}/v3/auth/tokens", headers={"X-Auth-Token": FERNET, "X-Subject-Token": SUBJECT})
    # 3. The error path: the app's exception message carries the token.
    assert requests.get(f"{keystone}/boom", headers={"X-Auth-Token": FERNET}, timeout=10).status_code == 500

    # 4. RPC: the request context carries the token (oslo.context puts auth_token in to_dict()).
    transport = om.get_rpc_transport(make_conf(), url="fake:/")
    endpoint = AgentEndpoint()
    server = om.get_rpc_server(
        transport, om.Target(topic="creds", server="h"), [endpoint], serializer=RequestContextSerializer()
    )
    server.start()
    try:
        client = om.get_rpc_client(
            transport, om.Target(topic="creds", server="h"), serializer=RequestContextSerializer()
        )
        ctx = oslo_context.RequestContext(auth_token=FERNET, user_id="u", project_id="p")
        client.call(ctx, "get_port", port_id="x")
        with pytest.raises(ValueError):
            client.call(ctx, "fail")
        client.cast(ctx, "work", n=1)
        assert endpoint.done.wait(10)
        notifier = om.Notifier(
            om.get_notification_transport(make_conf(), url="fake:/"),
            publisher_id="x",
            driver="messagingv2",
            serializer=RequestContextSerializer(),
        )
        notifier.info(ctx, "identity.authenticate.success", {"password": PASSWORD})
    finally:
        server.stop()
        server.wait()
        transport.cleanup()

    exported = spans.get()
    names = {s.name for s in exported}
    assert {"POST /v3/auth/tokens", "GET /v3/auth/tokens", "GET /boom", "POST", "GET"} <= names
    assert {"send creds", "process creds", "send notifications"} <= names
    client_post = next(s for s in exported if s.name == "POST")
    # The capture really happened (so the scrubber, not luck, kept the secrets out) ...
    assert client_post.attributes["http.request.header.x_auth_token"] == ("REDACTED",)
    assert client_post.attributes["http.request.header.x_request_note"] == ("harmless",)
    assert client_post.attributes["http.response.header.x_subject_token"] == ("REDACTED",)
    assert client_post.attributes["http.response.header.set_cookie"] == ("REDACTED",)
    server_post = next(s for s in exported if s.name == "POST /v3/auth/tokens")
    assert server_post.attributes["http.request.header.authorization"] == ("REDACTED",)
    assert "token=REDACTED" in server_post.attributes["url.query"]
    # ... and nothing anywhere in any span holds a secret.
    for span in exported:
        text = span.to_json()
        for secret in ALL_SECRETS:
            assert secret not in text, f"secret leaked into span {span.name}: {json.loads(text)}"
    for record in caplog.records:
        if record.name.startswith("cobalt_trace_openstack"):
            message = record.getMessage()
            assert not any(secret in message for secret in ALL_SECRETS), message


def test_scrubber_redacts_whatever_an_instrumentation_recorded():
    from cobalt_trace_openstack.exporting import scrub_attributes

    attrs = {
        "http.request.header.x_auth_token": ("t",),
        "http.request.header.x-openstack-request-id": ("req-1",),
        "http.response.header.set-cookie": ("s=1",),
        "url.full": "https://u:p@h/v3?password=pw&limit=1",
        "url.query": "token=abc&marker=2",
        "http.route": "/v3",
    }
    out = scrub_attributes(attrs)
    assert out["http.request.header.x_auth_token"] == ("REDACTED",)
    assert out["http.request.header.x-openstack-request-id"] == ("req-1",)
    assert out["http.response.header.set-cookie"] == ("REDACTED",)
    assert out["url.full"] == "https://REDACTED:REDACTED@h/v3?password=REDACTED&limit=1"
    assert out["url.query"] == "token=REDACTED&marker=2"
    assert scrub_attributes({"http.route": "/v3", "url.query": "limit=1"}) is None  # untouched: no copy
