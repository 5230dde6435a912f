"""Each API service's paste pipeline, as in its api-paste.ini: oslo.middleware's request id, the
tracing filter of cobalt_trace_openstack, a fault wrapper, token validation, the application."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PASTE_INI", "load_api"]

PASTE_INI = """\
[pipeline:main]
pipeline = {pipeline}

[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory

[filter:tracing]
paste.filter_factory = cobalt_trace_openstack.wsgi:filter_factory

[filter:faultwrap]
paste.filter_factory = cobalt_trace.demo.openstack.apis:faultwrap_filter_factory

[filter:authtoken]
paste.filter_factory = cobalt_trace.demo.openstack.apis:authtoken_filter_factory

[app:api]
paste.app_factory = cobalt_trace.demo.openstack.apis:app_factory
service = {service}
"""


def load_api(service: str, directory: Path):
    """Write `<service>-api-paste.ini` into `directory` and load it with paste.deploy."""
    from paste.deploy import loadapp

    # Keystone validates tokens itself; every other API asks Keystone (keystonemiddleware).
    stages = (
        "request_id tracing faultwrap api"
        if service == "keystone"
        else ("request_id tracing faultwrap authtoken api")
    )
    ini = directory / f"{service}-api-paste.ini"
    ini.write_text(PASTE_INI.format(pipeline=stages, service=service))
    return loadapp(f"config:{ini.resolve()}")
