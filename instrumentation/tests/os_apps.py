"""Small WSGI apps and filters used by the tests through real paste.deploy pipelines."""

from __future__ import annotations

import json

from opentelemetry import trace

HOOKS: dict = {}  # path -> callable(environ) -> dict, set by a test


def _current_ids():
    ctx = trace.get_current_span().get_span_context()
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


def api_app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/fail":
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]
    if path == "/boom":
        raise RuntimeError("backend refused token " + environ.get("HTTP_X_AUTH_TOKEN", ""))
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (chunk for chunk in (b"a", b"b", b"c"))
    body = {
        **_current_ids(),
        "request_id": environ.get("openstack.request_id"),
        "global_request_id": environ.get("openstack.global_request_id"),
    }
    hook = HOOKS.get(path)
    if hook is not None:
        body["hook"] = hook(environ)
    payload = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def api_app_factory(global_conf, **local_conf):
    return api_app


def fake_auth_filter_factory(global_conf, **local_conf):
    """Stands in for keystonemiddleware.auth_token: sets the identity headers it would set."""

    def _filter(app):
        def middleware(environ, start_response):
            environ["HTTP_X_PROJECT_ID"] = "9a8b7c6d5e4f40312233445566778899"
            environ["HTTP_X_USER_ID"] = "1f2e3d4c5b6a47980011223344556677"
            environ["HTTP_X_IDENTITY_STATUS"] = "Confirmed"
            return app(environ, start_response)

        return middleware

    return _filter


PIPELINE_INI = """
[composite:main]
use = egg:Paste#urlmap
/ = {pipeline}

[pipeline:before]
pipeline = tracing request_id authtoken api

[pipeline:after]
pipeline = request_id tracing authtoken api

[filter:tracing]
paste.filter_factory = cobalt_trace_openstack.wsgi:filter_factory
capture_headers = {capture}

[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory

[filter:authtoken]
paste.filter_factory = os_apps:fake_auth_filter_factory

[app:api]
paste.app_factory = os_apps:api_app_factory
"""


def load_pipeline(tmp_path, order: str = "before", capture: str = "X-Forwarded-For"):
    """Load a real paste.deploy pipeline: our filter before or after oslo.middleware's RequestId."""
    from paste.deploy import loadapp

    ini = tmp_path / f"api-paste-{order}.ini"
    ini.write_text(PIPELINE_INI.format(pipeline=order, capture=capture))
    return loadapp(f"config:{ini}")
