"""Who runs where in the demo: clusters on their own loopback addresses, their collectors and the
simulated OpenStack services with the ports OpenStack uses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Cluster", "ServiceSpec", "Topology", "CLUSTERS", "SERVICES", "make_topology"]

MANAGEMENT, CONTROL_PLANE, HYPERVISOR = "management", "control-plane", "hypervisor"


@dataclass(frozen=True)
class Cluster:
    name: str
    address: str  # the cluster's loopback address (its collector listens here)
    gateways: tuple[str, ...]  # OTLP/gRPC endpoints services of this cluster send to


CLUSTERS = {
    MANAGEMENT: Cluster(MANAGEMENT, "127.0.1.1", ()),  # the central collector itself, see below
    CONTROL_PLANE: Cluster(CONTROL_PLANE, "127.0.2.1", ("127.0.2.1:4317", "127.0.2.2:4317")),
    HYPERVISOR: Cluster(HYPERVISOR, "127.0.3.1", ("127.0.3.1:4317",)),
}


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    cluster: str
    port: int = 0  # HTTP API port (0: no API)


SERVICES = (
    ServiceSpec("keystone", CONTROL_PLANE, 5000),
    ServiceSpec("nova-api", CONTROL_PLANE, 8774),
    ServiceSpec("nova-conductor", CONTROL_PLANE),
    ServiceSpec("nova-scheduler", CONTROL_PLANE),
    ServiceSpec("neutron-server", CONTROL_PLANE, 9696),
    ServiceSpec("glance-api", CONTROL_PLANE, 9292),
    ServiceSpec("cinder-api", CONTROL_PLANE, 8776),
    ServiceSpec("nova-compute", HYPERVISOR),
    ServiceSpec("neutron-openvswitch-agent", HYPERVISOR),
    ServiceSpec("ha-agent", HYPERVISOR),
)
CALLER = ServiceSpec("greenhouse", MANAGEMENT)


@dataclass
class Topology:
    """Everything a service process needs to know, written to JSON by the demo and read back."""

    transport_url: str
    broker_host: str
    broker_port: int  # 0: no broker port to wait for (filesystem transport)
    central_address: str = CLUSTERS[MANAGEMENT].address
    ui_url: str = "http://127.0.0.1:3200"
    hypervisor_host: str = "hv-001"
    apis: dict[str, str] = field(default_factory=dict)  # service -> base URL
    rate: float = 2.0  # caller flows per second
    error_rate: float = 0.05
    slow_rate: float = 0.05
    seed: int = 0
    workload_log: str = ""  # JSON lines, one per caller flow

    def otlp_endpoint(self, spec: ServiceSpec, index: int) -> tuple[str, str]:
        """(protocol, endpoint) the service exports to: its cluster's gateway replicas in turn
        (as a Kubernetes Service would spread connections); the management cluster's caller
        sends OTLP/HTTP to the central collector's local receiver."""
        if spec.cluster == MANAGEMENT:
            return "http/protobuf", f"http://{self.central_address}:4318/v1/traces"
        gateways = CLUSTERS[spec.cluster].gateways
        return "grpc", f"http://{gateways[index % len(gateways)]}"

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> Topology:
        return cls(**json.loads(path.read_text()))


def make_topology(transport_url: str, broker_host: str, broker_port: int, **kwargs) -> Topology:
    apis = {s.name: f"http://{CLUSTERS[s.cluster].address}:{s.port}" for s in SERVICES if s.port}
    return Topology(transport_url, broker_host, broker_port, apis=apis, **kwargs)


def spec_of(name: str) -> ServiceSpec:
    for spec in (*SERVICES, CALLER):
        if spec.name == name:
            return spec
    raise ValueError(
        f"unknown demo service {name!r}; known: {', '.join(s.name for s in (*SERVICES, CALLER))}"
    )
