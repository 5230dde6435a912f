"""Synthetic OpenStack traces: the request flows an operator of a CobaltCore cloud sees.

Each flow is a tree of calls between the services of the seed document (keystone, nova-api,
neutron-server, glance-api, cinder-api on the control plane; nova-compute, the OVS agent and the
HA agent on the hypervisor), with HTTP and messaging attributes in the OpenTelemetry semantic
conventions and one `openstack.request_id` per trace.  Durations are log-normal; about 1% of
traces fail and about 2% are slow (> 1 s).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

__all__ = ["SERVICES", "Call", "FLOWS", "TraceFactory"]

CONTROL_PLANE = ("keystone", "nova-api", "neutron-server", "glance-api", "cinder-api")
HYPERVISOR = ("nova-compute", "neutron-openvswitch-agent", "ha-agent")
SERVICES = CONTROL_PLANE + HYPERVISOR

SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL = (
    Span.SPAN_KIND_SERVER,
    Span.SPAN_KIND_CLIENT,
    Span.SPAN_KIND_PRODUCER,
    Span.SPAN_KIND_CONSUMER,
    Span.SPAN_KIND_INTERNAL,
)


@dataclass
class Call:
    """One span of a flow template; children run inside it."""

    service: str
    name: str
    kind: int
    attrs: dict = field(default_factory=dict)
    children: list[Call] = field(default_factory=list)
    share: float = 0.6  # fraction of the parent's duration this call takes


def _http(service, method, route, status=200, children=(), share=0.6):
    attrs = {
        "http.request.method": method,
        "http.route": route,
        "url.path": route.replace("{id}", "%ID%"),
        "http.response.status_code": status,
        "server.address": f"{service}.openstack.svc",
    }
    client = Call(
        "", f"{method}", CLIENT, {"http.request.method": method, "server.address": f"{service}.openstack.svc"}
    )
    server = Call(service, f"{method} {route}", SERVER, attrs, list(children))
    client.children.append(server)
    client.share = share
    return client


def _rpc(topic, method, consumer_service, children=()):
    prod = Call(
        "",
        f"send {topic}",
        PRODUCER,
        {
            "messaging.system": "rabbitmq",
            "messaging.destination.name": topic,
            "messaging.operation.type": "send",
            "rpc.method": method,
        },
        share=0.05,
    )
    cons = Call(
        consumer_service,
        f"process {topic}",
        CONSUMER,
        {
            "messaging.system": "rabbitmq",
            "messaging.destination.name": topic,
            "messaging.operation.type": "process",
            "rpc.method": method,
        },
        list(children),
        share=0.9,
    )
    prod.children.append(cons)
    return prod


def _token_check():
    return _http("keystone", "GET", "/v3/auth/tokens", share=0.08)


def _server_boot():
    ovs = _rpc(
        "q-agent-notifier-port-update",
        "port_update",
        "neutron-openvswitch-agent",
        [
            Call(
                "neutron-openvswitch-agent", "ovs port binding", INTERNAL, {"ovs.bridge": "br-int"}, share=0.5
            )
        ],
    )
    compute = _rpc(
        "compute",
        "build_and_run_instance",
        "nova-compute",
        [
            Call("nova-compute", "spawn", INTERNAL, {"code.function": "spawn"}, share=0.5),
            _http("neutron-server", "PUT", "/v2.0/ports/{id}", children=[ovs], share=0.2),
            Call("ha-agent", "ha check instance", INTERNAL, {"code.function": "check"}, share=0.1),
        ],
    )
    root = Call(
        "nova-api",
        "POST /v2.1/servers",
        SERVER,
        {
            "http.request.method": "POST",
            "http.route": "/v2.1/servers",
            "url.path": "/v2.1/servers",
            "http.response.status_code": 202,
            "server.address": "nova-api.openstack.svc",
        },
        [
            _token_check(),
            _http("glance-api", "GET", "/v2/images/{id}", share=0.1),
            _http("neutron-server", "POST", "/v2.0/ports", share=0.2),
            compute,
        ],
    )
    return root


def _volume_attach():
    compute = _rpc(
        "compute",
        "attach_volume",
        "nova-compute",
        [
            _http("cinder-api", "POST", "/v3/{id}/attachments", share=0.4),
            Call("nova-compute", "connect volume", INTERNAL, {"code.function": "connect_volume"}, share=0.4),
        ],
    )
    return Call(
        "nova-api",
        "POST /v2.1/servers/{id}/os-volume_attachments",
        SERVER,
        {
            "http.request.method": "POST",
            "http.route": "/v2.1/servers/{id}/os-volume_attachments",
            "http.response.status_code": 200,
            "server.address": "nova-api.openstack.svc",
        },
        [_token_check(), _http("cinder-api", "GET", "/v3/{id}/volumes/{id}", share=0.1), compute],
    )


def _image_upload():
    return Call(
        "glance-api",
        "PUT /v2/images/{id}/file",
        SERVER,
        {
            "http.request.method": "PUT",
            "http.route": "/v2/images/{id}/file",
            "http.response.status_code": 204,
            "server.address": "glance-api.openstack.svc",
        },
        [_token_check(), Call("glance-api", "store image", INTERNAL, {"glance.store": "swift"}, share=0.8)],
    )


def _port_create():
    ovs = _rpc(
        "q-agent-notifier-port-update",
        "port_update",
        "neutron-openvswitch-agent",
        [
            Call(
                "neutron-openvswitch-agent", "ovs port binding", INTERNAL, {"ovs.bridge": "br-int"}, share=0.6
            )
        ],
    )
    return Call(
        "neutron-server",
        "POST /v2.0/ports",
        SERVER,
        {
            "http.request.method": "POST",
            "http.route": "/v2.0/ports",
            "http.response.status_code": 201,
            "server.address": "neutron-server.openstack.svc",
        },
        [
            _token_check(),
            Call("neutron-server", "db create port", CLIENT, {"db.system.name": "mysql"}, share=0.2),
            ovs,
        ],
    )


def _server_delete():
    compute = _rpc(
        "compute",
        "terminate_instance",
        "nova-compute",
        [
            Call("nova-compute", "destroy", INTERNAL, {"code.function": "destroy"}, share=0.5),
            _http("neutron-server", "DELETE", "/v2.0/ports/{id}", share=0.3),
        ],
    )
    return Call(
        "nova-api",
        "DELETE /v2.1/servers/{id}",
        SERVER,
        {
            "http.request.method": "DELETE",
            "http.route": "/v2.1/servers/{id}",
            "http.response.status_code": 204,
            "server.address": "nova-api.openstack.svc",
        },
        [_token_check(), compute],
    )


FLOWS = {
    "server_boot": (_server_boot(), 0.3),
    "volume_attach": (_volume_attach(), 0.2),
    "image_upload": (_image_upload(), 0.15),
    "port_create": (_port_create(), 0.2),
    "server_delete": (_server_delete(), 0.15),
}


def _kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        v = AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = AnyValue(int_value=value)
    elif isinstance(value, float):
        v = AnyValue(double_value=value)
    else:
        v = AnyValue(string_value=str(value))
    return KeyValue(key=key, value=v)


class TraceFactory:
    """Makes whole traces as lists of (service, Span) with fresh ids and times."""

    def __init__(self, seed: int | None = None, error_rate: float = 0.01, slow_rate: float = 0.02):
        self.rng = random.Random(seed)
        self.error_rate = error_rate
        self.slow_rate = slow_rate
        names, weights = zip(*[(n, w) for n, (_, w) in FLOWS.items()], strict=True)
        self._flow_names, self._flow_weights = names, weights

    def trace(self, now_ns: int, trace_id: bytes | None = None) -> list[tuple[str, Span]]:
        rng = self.rng
        flow = FLOWS[rng.choices(self._flow_names, self._flow_weights)[0]][0]
        trace_id = trace_id or rng.randbytes(16)
        request_id = f"req-{uuid.UUID(bytes=rng.randbytes(16), version=4)}"
        slow = rng.random() < self.slow_rate
        failed = rng.random() < self.error_rate
        duration = int(rng.lognormvariate(18.4, 0.6))  # ~100 ms median
        if slow:
            duration = int(rng.uniform(1.1e9, 3e9))
        out: list[tuple[str, Span]] = []
        self._emit(flow, "", trace_id, b"", now_ns - duration, duration, request_id, failed, out)
        return out

    def _emit(self, call, parent_service, trace_id, parent_id, start, duration, request_id, failed, out):
        rng = self.rng
        service = call.service or parent_service
        span = Span(
            trace_id=trace_id,
            span_id=rng.randbytes(8),
            parent_span_id=parent_id,
            name=call.name,
            kind=call.kind,
            start_time_unix_nano=start,
            end_time_unix_nano=start + duration,
        )
        attrs = dict(call.attrs)
        attrs["openstack.request_id"] = request_id
        if "url.path" in attrs:
            attrs["url.path"] = attrs["url.path"].replace("%ID%", uuid.UUID(int=rng.getrandbits(128)).hex)
        if call.kind == CONSUMER:
            attrs["messaging.cobalt.queue_wait_ms"] = round(rng.uniform(0.2, 15.0), 3)
        attrs["thread.id"] = rng.randint(1, 64)
        if failed and not call.children and call.kind in (SERVER, CONSUMER, INTERNAL):
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="upstream failure"))
            if "http.response.status_code" in attrs:
                attrs["http.response.status_code"] = 500
            failed = False
        span.attributes.extend(_kv(k, v) for k, v in attrs.items())
        if call.kind == SERVER and rng.random() < 0.25:
            ev = span.events.add(time_unix_nano=start + duration // 2, name="request.validated")
            ev.attributes.extend([_kv("validator", "jsonschema"), _kv("fields", 12)])
        out.append((service, span))
        cursor = start + max(1, duration // 50)
        for child in call.children:
            child_dur = max(1000, int(duration * child.share * rng.uniform(0.7, 1.0)))
            child_dur = min(child_dur, start + duration - cursor) if start + duration > cursor else 1000
            self._emit(child, service, trace_id, span.span_id, cursor, child_dur, request_id, failed, out)
            cursor += max(1, child_dur // 3)


def resource_attrs(service: str, host_index: int = 0) -> list[KeyValue]:
    host = f"{'cmp' if service in HYPERVISOR else 'ctl'}-{host_index:03d}"
    return [
        _kv("service.name", service),
        _kv("service.namespace", "openstack"),
        _kv("host.name", host),
        _kv("service.version", "2025.1"),
        _kv("cloud.region", "eu-de-1"),
        _kv("deployment.environment", "qa"),
    ]


def build_request(spans: list[tuple[str, Span]]) -> ExportTraceServiceRequest:
    """Group spans by service into one ResourceSpans each, as an SDK batch would."""
    req = ExportTraceServiceRequest()
    by_service: dict[str, list[Span]] = {}
    for service, span in spans:
        by_service.setdefault(service, []).append(span)
    for service, items in by_service.items():
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(resource_attrs(service))
        ss = rs.scope_spans.add()
        ss.scope.name = "cobalt_trace_openstack"
        ss.scope.version = "0.1.0"
        ss.spans.extend(items)
    return req
