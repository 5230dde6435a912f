"""The API services' WSGI applications (loaded through paste, see `pipeline.py`): just enough of
Keystone, Nova, Neutron, Glance and Cinder for the demo's flows, with their real URLs."""

from __future__ import annotations

import re
import secrets
import threading
import uuid

import oslo_messaging as om
from oslo_context import context as oslo_context
from webob import Request, Response

from cobalt_trace_openstack import trace

from . import rpc
from .runtime import FAULT_HEADER, SERVICE_TOKEN, Runtime, current

__all__ = ["app_factory", "authtoken_filter_factory", "faultwrap_filter_factory", "RPC_CALL_TIMEOUT"]

# nova-api's RPC call timeout in the demo (nova's default is 60 s); the volume-attach flow with
# the `timeout` fault makes nova-compute answer later than this.
RPC_CALL_TIMEOUT = 1.0

_UUID = r"[0-9a-f-]{36}"


def _json(status: int, body=None, headers: dict | None = None) -> Response:
    resp = Response(status=status, json_body=body if body is not None else {}, headers=headers or {})
    if body is None:
        resp.body = b""
    return resp


def _context(req: Request):
    return oslo_context.RequestContext.from_environ(req.environ)


def _fault(req: Request) -> str:
    return req.headers.get(FAULT_HEADER, "")


class Router:
    def __init__(self):
        self.routes: list[tuple[str, re.Pattern, object]] = []

    def add(self, method: str, pattern: str, handler) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def __call__(self, environ, start_response):
        req = Request(environ)
        rt = current()
        for method, pattern, handler in self.routes:
            m = pattern.match(req.path_info)
            if m and req.method == method:
                resp = handler(rt, req, **m.groupdict())
                return resp(environ, start_response)
        return _json(404, {"error": f"no route for {req.method} {req.path_info}"})(environ, start_response)


# -- keystone ---------------------------------------------------------------------------------

_tokens: set[str] = {SERVICE_TOKEN}
_tokens_lock = threading.Lock()


def _issue_token(rt: Runtime, req: Request, **_):
    rt.work(20, 60)  # password check, fernet token
    token = "gAAAAA" + secrets.token_urlsafe(24)
    with _tokens_lock:
        _tokens.add(token)
    body = {"token": {"methods": ["password"], "expires_at": "2099-01-01T00:00:00Z"}}
    return _json(201, body, {"X-Subject-Token": token})


def _validate_token(rt: Runtime, req: Request, **_):
    rt.work(2, 8)
    token = req.headers.get("X-Subject-Token", "")
    if token not in _tokens:
        return _json(404, {"error": {"code": 404, "message": "Could not find token"}})
    return _json(
        200, {"token": {"project": {"id": uuid.UUID(int=7).hex}, "user": {"id": uuid.UUID(int=9).hex}}}
    )


def _keystone() -> Router:
    r = Router()
    r.add("POST", "/v3/auth/tokens", _issue_token)
    r.add("GET", "/v3/auth/tokens", _validate_token)
    return r


# -- nova-api ---------------------------------------------------------------------------------

_servers: dict[str, dict] = {}  # what nova's database would hold: server id -> port id


def _boot(rt: Runtime, req: Request, **_):
    ctx, fault = _context(req), _fault(req)
    server = req.json_body.get("server", {})
    image = rt.http("GET", "glance-api", f"/v2/images/{server.get('imageRef')}", ctx.auth_token, fault)
    if image.status_code >= 500:
        return _json(500, {"computeFault": {"code": 500, "message": "Image service unavailable"}})
    port = rt.http(
        "POST",
        "neutron-server",
        "/v2.0/ports",
        ctx.auth_token,
        json={"port": {"network_id": str(uuid.uuid4())}},
    )
    if port.status_code >= 400:
        return _json(500, {"computeFault": {"code": 500, "message": "Network service failed"}})
    instance = {"uuid": str(uuid.uuid4()), "name": server.get("name", "vm"), "image": server.get("imageRef")}
    port_id = port.json()["port"]["id"]
    _servers[instance["uuid"]] = {"port_id": port_id}
    rt.client(rpc.TOPIC_CONDUCTOR).cast(
        ctx, "schedule_and_build_instances", instance=instance, port_id=port_id, fault=fault
    )
    return _json(202, {"server": {"id": instance["uuid"], "status": "BUILD"}})


def _delete(rt: Runtime, req: Request, server_id: str):
    ctx = _context(req)
    server = _servers.pop(server_id, None)
    if server is None:
        return _json(404, {"itemNotFound": {"code": 404, "message": f"Instance {server_id} not found"}})
    rt.work(3, 10)
    rt.client(rpc.TOPIC_COMPUTE, server=rt.topology.hypervisor_host).cast(
        ctx, "terminate_instance", instance_id=server_id, port_id=server["port_id"], fault=_fault(req)
    )
    return _json(204)


def _attach(rt: Runtime, req: Request, server_id: str):
    ctx, fault = _context(req), _fault(req)
    volume_id = req.json_body.get("volumeAttachment", {}).get("volumeId", "")
    volume = rt.http("GET", "cinder-api", f"/v3/{ctx.project_id}/volumes/{volume_id}", ctx.auth_token, fault)
    if volume.status_code >= 400:
        return _json(volume.status_code, {"badRequest": {"message": "volume unavailable"}})
    compute = rt.client(rpc.TOPIC_COMPUTE, server=rt.topology.hypervisor_host)
    try:
        device = compute.prepare(timeout=RPC_CALL_TIMEOUT).call(
            ctx, "reserve_block_device_name", instance_id=server_id, fault=fault
        )
    except om.MessagingTimeout:
        return _json(500, {"computeFault": {"code": 500, "message": "Timed out waiting for a reply"}})
    compute.cast(ctx, "attach_volume", instance_id=server_id, volume_id=volume_id, device=device)
    return _json(200, {"volumeAttachment": {"device": device, "serverId": server_id, "volumeId": volume_id}})


def _external_events(rt: Runtime, req: Request, **_):
    ctx = _context(req)
    events = req.json_body.get("events", [])
    for event in events:
        rt.client(rpc.TOPIC_COMPUTE, server=rt.topology.hypervisor_host).cast(
            ctx, "external_instance_event", instance_id=event.get("server_uuid"), name=event.get("name")
        )
    return _json(200, {"events": [{**e, "code": 200, "status": "completed"} for e in events]})


def _hypervisors(rt: Runtime, req: Request, **_):
    rt.work(5, 15)
    host = rt.topology.hypervisor_host
    return _json(200, {"hypervisors": [{"hypervisor_hostname": host, "state": "up", "status": "enabled"}]})


def _nova() -> Router:
    r = Router()
    r.add("POST", "/v2.1/servers", _boot)
    r.add("DELETE", f"/v2.1/servers/(?P<server_id>{_UUID})", _delete)
    r.add("POST", f"/v2.1/servers/(?P<server_id>{_UUID})/os-volume_attachments", _attach)
    r.add("POST", "/v2.1/os-server-external-events", _external_events)
    r.add("GET", "/v2.1/os-hypervisors/detail", _hypervisors)
    return r


# -- glance-api -------------------------------------------------------------------------------


def _show_image(rt: Runtime, req: Request, image_id: str):
    fault = _fault(req)
    if fault == "error":
        rt.work(5, 20)
        return _json(503, {"message": "image store unavailable"})
    rt.work(1100, 1400) if fault == "slow" else rt.work(3, 15)
    return _json(200, {"id": image_id, "status": "active", "disk_format": "qcow2"})


def _create_image(rt: Runtime, req: Request, **_):
    rt.work(5, 20)
    return _json(201, {"id": str(uuid.uuid4()), "status": "queued", "name": req.json_body.get("name")})


def _upload_image(rt: Runtime, req: Request, image_id: str):
    fault = _fault(req)
    with trace("glance_store.add", attributes={"glance.image_id": image_id, "glance.store": "swift"}):
        rt.work(1200, 1600) if fault == "slow" else rt.work(40, 120)
        if fault == "error":
            raise RuntimeError("swift: 503 from object server while writing image chunks")
    return _json(204)


def _glance() -> Router:
    r = Router()
    r.add("GET", f"/v2/images/(?P<image_id>{_UUID})", _show_image)
    r.add("POST", "/v2/images", _create_image)
    r.add("PUT", f"/v2/images/(?P<image_id>{_UUID})/file", _upload_image)
    return r


# -- neutron-server ---------------------------------------------------------------------------


def _create_port(rt: Runtime, req: Request, **_):
    fault = _fault(req)
    with trace("neutron.ipam.allocate_ip"):
        rt.work(1100, 1300) if fault == "slow" else rt.work(5, 25)
        if fault == "error":
            raise RuntimeError("DBDeadlock: deadlock found when trying to get lock on ipallocations")
    return _json(201, {"port": {"id": str(uuid.uuid4()), "status": "DOWN"}})


def _update_port(rt: Runtime, req: Request, port_id: str):
    ctx = _context(req)
    binding = req.json_body.get("port", {})
    host = binding.get("binding:host_id", "")
    with trace("ml2.bind_port", attributes={"neutron.port_id": port_id, "neutron.host": host}):
        rt.work(5, 20)
    rt.client(rpc.TOPIC_PORT_UPDATE, fanout=True).cast(
        ctx, "port_update", port_id=port_id, host=host, instance_id=binding.get("device_id", "")
    )
    return _json(200, {"port": {"id": port_id, "binding:host_id": host, "status": "DOWN"}})


def _delete_port(rt: Runtime, req: Request, port_id: str):
    ctx = _context(req)
    rt.work(5, 15)
    rt.client(rpc.TOPIC_PORT_DELETE, fanout=True).cast(ctx, "port_delete", port_id=port_id, fault=_fault(req))
    return _json(204)


def _neutron() -> Router:
    r = Router()
    r.add("POST", "/v2.0/ports", _create_port)
    r.add("PUT", f"/v2.0/ports/(?P<port_id>{_UUID})", _update_port)
    r.add("DELETE", f"/v2.0/ports/(?P<port_id>{_UUID})", _delete_port)
    return r


# -- cinder-api -------------------------------------------------------------------------------


def _show_volume(rt: Runtime, req: Request, project_id: str, volume_id: str):
    rt.work(1100, 1300) if _fault(req) == "slow" else rt.work(3, 15)
    return _json(200, {"volume": {"id": volume_id, "status": "available", "size": 10}})


def _create_attachment(rt: Runtime, req: Request, project_id: str):
    rt.work(10, 40)
    return _json(200, {"attachment": {"id": str(uuid.uuid4()), "status": "attaching"}})


def _cinder() -> Router:
    r = Router()
    r.add("GET", f"/v3/(?P<project_id>[0-9a-f]+)/volumes/(?P<volume_id>{_UUID})", _show_volume)
    r.add("POST", "/v3/(?P<project_id>[0-9a-f]+)/attachments", _create_attachment)
    return r


_APPS = {
    "keystone": _keystone,
    "nova-api": _nova,
    "glance-api": _glance,
    "neutron-server": _neutron,
    "cinder-api": _cinder,
}


def app_factory(global_conf, service: str = "", **local_conf):
    """Paste `app_factory`: `service = nova-api` and so on."""
    if service not in _APPS:
        raise ValueError(f"unknown demo API service {service!r}; known: {', '.join(_APPS)}")
    return _APPS[service]()


def authtoken_filter_factory(global_conf, **local_conf):
    """Stands in for keystonemiddleware.auth_token: validates the user's token with Keystone over
    HTTP (a traced call, as in a real cloud) and sets the identity headers it would set."""

    def _filter(app):
        def middleware(environ, start_response):
            token = environ.get("HTTP_X_AUTH_TOKEN", "")
            rt = current()
            resp = rt.http(
                "GET", "keystone", "/v3/auth/tokens", SERVICE_TOKEN, headers={"X-Subject-Token": token}
            )
            if resp.status_code != 200:
                denied = {
                    "error": {"code": 401, "message": "The request you have made requires authentication."}
                }
                return _json(401, denied)(environ, start_response)
            body = resp.json()["token"]
            environ["HTTP_X_PROJECT_ID"] = body["project"]["id"]
            environ["HTTP_X_USER_ID"] = body["user"]["id"]
            environ["HTTP_X_IDENTITY_STATUS"] = "Confirmed"
            environ["HTTP_X_ROLES"] = "member,reader"
            return app(environ, start_response)

        return middleware

    return _filter


def faultwrap_filter_factory(global_conf, **local_conf):
    """Like nova's FaultWrapper: an unexpected exception becomes a 500 with a JSON fault body."""

    def _filter(app):
        def middleware(environ, start_response):
            try:
                return app(environ, start_response)
            except Exception as exc:
                fault = {
                    "computeFault": {"code": 500, "message": f"Unexpected API Error: {type(exc).__name__}"}
                }
                return _json(500, fault)(environ, start_response)

        return middleware

    return _filter
