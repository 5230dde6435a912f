"""What schemas cannot see: Services reach declared ports, probes hit health_check, the ConfigMaps
hold configs the collector accepts and that keep the seed's pipeline, TLS and NetworkPolicies are
wired to the right objects, pods run non-root."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import PurePosixPath

import pytest
import yaml
from k8s_manifests import (
    GATEWAY_OVERLAYS,
    OVERLAYS,
    ROOT,
    collector_config,
    container,
    find,
    find_all,
    local_files,
    pod_env,
    pod_spec,
    render,
    rewrite_paths,
    selects,
)

from cobalt_trace.components import builtin_registry
from cobalt_trace.pipeline.component import ComponentID, Kind
from cobalt_trace.pipeline.configtypes import decode

SEED = yaml.safe_load((ROOT / "tests" / "fixtures" / "seed-config.yaml").read_text())
HEALTH_PORT = 13133
RUN_AS = 10001
KINDS = {"receivers": Kind.RECEIVER, "processors": Kind.PROCESSOR, "exporters": Kind.EXPORTER}
KINDS["extensions"] = Kind.EXTENSION
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _workloads(objs: list[dict]) -> list[dict]:
    return find_all(objs, "Deployment") + find_all(objs, "StatefulSet")


def _gateway(overlay: str) -> tuple[list[dict], dict]:
    objs = render(overlay)
    return objs, find(objs, "Deployment", "otel-collector")


def _central() -> tuple[list[dict], dict]:
    objs = render("management")
    return objs, find(objs, "StatefulSet", "cobalt-trace-central")


def _all_workloads():
    for overlay in OVERLAYS:
        objs = render(overlay)
        for w in _workloads(objs):
            yield overlay, objs, w


def _container_port(workload: dict, ref: int | str) -> int:
    ports = container(workload)["ports"]
    for p in ports:
        if ref in (p["containerPort"], p.get("name")):
            return p["containerPort"]
    raise AssertionError(f"{workload['metadata']['name']}: no container port {ref!r}")


def _expand(text: str, env: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        assert name in env or default is not None, f"${{env:{name}}} is not set in the pod"
        return env.get(name, default)

    return _ENV_REF.sub(sub, text)


def _resolved_config(objs: list[dict], workload: dict) -> dict:
    raw = yaml.safe_dump(collector_config(objs, workload))
    return yaml.safe_load(_expand(raw, pod_env(objs, workload)))


def _port_of(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2])


def _listening_ports(config: dict) -> set[int]:
    ports = set()
    for rid, rcfg in config.get("receivers", {}).items():
        assert ComponentID.parse(rid).type == "otlp"
        for proto in (rcfg or {}).get("protocols", {}).values():
            ports.add(_port_of(proto["endpoint"]))
    for ext in config.get("extensions", {}).values():
        if ext and "endpoint" in ext:
            ports.add(_port_of(ext["endpoint"]))
    ports.add(_port_of(config["service"]["telemetry"]["metrics"]["address"]))
    return ports


def _mount_for(workload: dict, file_path: str) -> tuple[dict, dict]:
    """The volume mount (and volume) under which `file_path` lies."""
    p = PurePosixPath(file_path)
    best = None
    for m in container(workload)["volumeMounts"]:
        mp = PurePosixPath(m["mountPath"])
        if (p == mp or mp in p.parents) and (
            best is None or len(mp.parts) > len(PurePosixPath(best["mountPath"]).parts)
        ):
            best = m
    assert best is not None, f"{file_path} is on no volume mount"
    for v in pod_spec(workload).get("volumes", []):
        if v["name"] == best["name"]:
            return best, v
    for t in workload["spec"].get("volumeClaimTemplates", []):
        if t["metadata"]["name"] == best["name"]:
            return best, {"name": best["name"], "persistentVolumeClaim": t}
    raise AssertionError(f"mount {best['name']} has no volume")


# --- Services, ports, probes -------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_selects_one_workload_and_reaches_its_ports(overlay):
    objs = render(overlay)
    services = find_all(objs, "Service")
    assert services
    for svc in services:
        owners = [
            w
            for w in _workloads(objs)
            if selects(svc["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(owners) == 1, f"Service {svc['metadata']['name']} selects {len(owners)} workloads"
        for port in svc["spec"]["ports"]:
            assert _container_port(owners[0], port.get("targetPort", port["port"])) == port["port"], (
                svc["metadata"]["name"],
                port,
            )
    for w in _workloads(objs):
        labels = w["spec"]["template"]["metadata"]["labels"]
        assert selects(w["spec"]["selector"], labels)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_hit_the_health_check_extension(overlay):
    objs = render(overlay)
    for w in _workloads(objs):
        c = container(w)
        health = collector_config(objs, w)["extensions"]["health_check"]
        assert _port_of(health["endpoint"]) == HEALTH_PORT
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            get = c[probe]["httpGet"]
            assert _container_port(w, get["port"]) == HEALTH_PORT, (w["metadata"]["name"], probe)
            assert get["path"] == health.get("path", "/")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_container_ports_are_exactly_what_the_config_listens_on(overlay):
    objs = render(overlay)
    for w in _workloads(objs):
        config = collector_config(objs, w)
        declared = {p["containerPort"] for p in container(w)["ports"]}
        assert declared == _listening_ports(config), w["metadata"]["name"]
        # Pods listen on all interfaces; a loopback default would make the Services dead ends.
        for rcfg in config["receivers"].values():
            for proto in rcfg["protocols"].values():
                assert proto["endpoint"].startswith("0.0.0.0:")


def test_gateway_exposes_seed_ports_and_runs_two_replicas():
    for overlay in GATEWAY_OVERLAYS:
        objs, gw = _gateway(overlay)
        assert gw["spec"]["replicas"] == 2
        assert {4317, 4318} <= {p["containerPort"] for p in container(gw)["ports"]}
        svc = find(objs, "Service", "otel-collector")
        assert {p["port"] for p in svc["spec"]["ports"]} == {4317, 4318}
        assert container(gw)["image"] == "cobalt-trace-gateway:0.1.0"
        assert container(gw)["args"][0] == "collector"
        assert set(container(gw)["resources"]) == {"requests", "limits"}


# --- The gateway config: the seed's, plus trace-id routing ---------------------------------------


@pytest.mark.parametrize("overlay", GATEWAY_OVERLAYS)
def test_gateway_config_keeps_the_seed_processors_and_export(overlay):
    objs, gw = _gateway(overlay)
    config = collector_config(objs, gw)
    env = pod_env(objs, gw)
    assert config["processors"]["batch"] == SEED["processors"]["batch"]
    assert config["processors"]["tail_sampling"] == SEED["processors"]["tail_sampling"]
    (attr,) = config["processors"]["resource"]["attributes"]
    (seed_attr,) = SEED["processors"]["resource"]["attributes"]
    assert {**attr, "value": "control-plane"} == seed_attr
    assert _expand(attr["value"], env) == overlay  # the cluster label is the overlay's cluster
    exporter = config["exporters"]["otlp"]
    assert _expand(exporter["endpoint"], env) == SEED["exporters"]["otlp"]["endpoint"]
    assert exporter["tls"]["insecure"] is False
    seed_pipeline = SEED["service"]["pipelines"]["traces"]
    sample = config["service"]["pipelines"]["traces/sample"]
    assert sample["processors"] == seed_pipeline["processors"]
    assert sample["exporters"] == seed_pipeline["exporters"]
    route = config["service"]["pipelines"]["traces/route"]
    assert route["receivers"] == seed_pipeline["receivers"]
    assert route["exporters"] == ["loadbalancing"]
    assert "tail_sampling" not in route.get("processors", [])  # sampling only after routing


@pytest.mark.parametrize("overlay", GATEWAY_OVERLAYS)
def test_trace_id_routing_resolves_the_headless_service_of_the_replicas(overlay):
    objs, gw = _gateway(overlay)
    config = collector_config(objs, gw)
    lb = config["exporters"]["loadbalancing"]
    assert lb["routing_key"] == "traceID"
    dns = lb["resolver"]["dns"]
    name, namespace, svc_suffix = dns["hostname"].split(".")
    assert svc_suffix == "svc" and namespace == gw["metadata"]["namespace"]
    headless = find(objs, "Service", name)
    assert headless["spec"]["clusterIP"] == "None"
    assert selects(headless["spec"]["selector"], gw["spec"]["template"]["metadata"]["labels"])
    (port,) = headless["spec"]["ports"]
    assert port["port"] == dns["port"]
    # ...and the port is the peer receiver of the sampling pipeline.
    peer_receivers = config["service"]["pipelines"]["traces/sample"]["receivers"]
    peer_ports = {_port_of(config["receivers"][r]["protocols"]["grpc"]["endpoint"]) for r in peer_receivers}
    assert peer_ports == {dns["port"]}


def test_the_cluster_name_varies_by_overlay_only_through_the_env_configmap():
    gateway_configs = set()
    for overlay in GATEWAY_OVERLAYS:
        objs, gw = _gateway(overlay)
        assert pod_env(objs, gw)["CLUSTER_NAME"] == overlay
        gateway_configs.add(yaml.safe_dump(collector_config(objs, gw)))
    assert len(gateway_configs) == 1  # one config file for every cluster, no copies


# --- The configs load with this project's components ------------------------------------------


def _decode_errors(config: dict) -> list[str]:
    registry = builtin_registry()
    errors = []
    for section, kind in KINDS.items():
        for cid, raw in (config.get(section) or {}).items():
            factory = registry.get(kind, ComponentID.parse(cid).type)
            if factory is None:
                errors.append(f"{section}::{cid}: no such component type")
                continue
            errors += decode(factory.config_type, raw, f"{section}::{cid}")[1]
            if factory.type == "loadbalancing":  # its protocol.otlp is the otlp exporter's config
                otlp = registry.get(Kind.EXPORTER, "otlp")
                otlp_raw = {**raw["protocol"]["otlp"], "endpoint": "peer:4319"}
                errors += decode(otlp.config_type, otlp_raw, f"{section}::{cid}::protocol::otlp")[1]
    service = config["service"]
    for ext in service.get("extensions", []):
        if ext not in config.get("extensions", {}):
            errors.append(f"service::extensions: {ext} is not configured")
    for pid, pipeline in service["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            for cid in pipeline.get(section, []):
                if cid not in config.get(section, {}):
                    errors.append(f"service::pipelines::{pid}::{section}: {cid} is not configured")
    return errors


def _local_config(objs: list[dict], workload: dict, pki, tmp_path) -> dict:
    """The config as the pod resolves it, with its TLS files and store directory on this machine
    (the checks read certificate files)."""
    return rewrite_paths(_resolved_config(objs, workload), local_files(pki, tmp_path))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_component_config_decodes_with_its_factory(overlay, pki, tmp_path):
    objs = render(overlay)
    for w in _workloads(objs):
        assert _decode_errors(_local_config(objs, w, pki, tmp_path)) == []


def test_decoding_reports_a_bad_key(pki, tmp_path):
    objs, gw = _gateway("hypervisor")
    config = _local_config(objs, gw, pki, tmp_path)
    config["processors"]["batch"]["send_batch_sise"] = 1
    del config["exporters"]["loadbalancing"]
    errors = _decode_errors(config)
    assert any("send_batch_sise" in e for e in errors), errors
    assert any("loadbalancing is not configured" in e for e in errors), errors


def _cli_validate(config: dict, env: dict[str, str], tmp_path, name: str) -> subprocess.CompletedProcess:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "cobalt_trace.cli.main", "validate", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cobalt_trace_validate_accepts_the_configmaps(overlay, pki, tmp_path):
    """The ConfigMap's text as the pod reads it: ${env:...} expanded by the collector from the
    pod's environment (files moved to this machine)."""
    objs = render(overlay)
    for w in _workloads(objs):
        config = rewrite_paths(collector_config(objs, w), local_files(pki, tmp_path))
        out = _cli_validate(config, pod_env(objs, w), tmp_path, w["metadata"]["name"])
        assert out.returncode == 0, f"{overlay}/{w['metadata']['name']}:\n{out.stdout}{out.stderr}"


def test_cobalt_trace_validate_rejects_a_broken_gateway_config(pki, tmp_path):
    objs, gw = _gateway("control-plane")
    config = rewrite_paths(collector_config(objs, gw), local_files(pki, tmp_path))
    config["exporters"]["loadbalancing"]["resolver"]["dns"]["hostnme"] = "x"
    out = _cli_validate(config, pod_env(objs, gw), tmp_path, "broken")
    assert out.returncode == 1
    assert "hostnme" in out.stderr


# --- TLS --------------------------------------------------------------------------------------


def test_central_serves_the_cert_manager_certificate_gateways_trust():
    objs, central = _central()
    config = collector_config(objs, central)
    tls = config["receivers"]["otlp"]["protocols"]["grpc"]["tls"]
    server_cert = find(objs, "Certificate", "otel-collector-tls")
    for key, secret_key in (("cert_file", "tls.crt"), ("key_file", "tls.key")):
        mount, volume = _mount_for(central, tls[key])
        assert volume["secret"]["secretName"] == server_cert["spec"]["secretName"]
        assert PurePosixPath(tls[key]).name == secret_key
    assert "server auth" in server_cert["spec"]["usages"]
    # The server certificate comes from the CA issuer, whose key is the self-signed CA certificate.
    ca_issuer = find(objs, "Issuer", server_cert["spec"]["issuerRef"]["name"])
    ca_cert = next(
        c
        for c in find_all(objs, "Certificate")
        if c["spec"]["secretName"] == ca_issuer["spec"]["ca"]["secretName"]
    )
    assert ca_cert["spec"]["isCA"] is True
    assert "selfSigned" in find(objs, "Issuer", ca_cert["spec"]["issuerRef"]["name"])["spec"]
    # Every name the gateways or in-cluster clients dial is in the certificate.
    names = set(server_cert["spec"]["dnsNames"])
    ns = central["metadata"]["namespace"]
    assert {"otel-collector", f"otel-collector.{ns}.svc", f"otel-collector.{ns}.svc.cluster.local"} <= names
    for overlay in GATEWAY_OVERLAYS:
        gobjs, gw = _gateway(overlay)
        endpoint = _resolved_config(gobjs, gw)["exporters"]["otlp"]["endpoint"]
        assert endpoint.rpartition(":")[0] in names
        assert _port_of(endpoint) == find(objs, "Service", "otel-collector")["spec"]["ports"][0]["port"]


@pytest.mark.parametrize("overlay", GATEWAY_OVERLAYS)
def test_gateway_verifies_the_central_collector_with_the_ca_certificate(overlay):
    objs, gw = _gateway(overlay)
    ca_file = collector_config(objs, gw)["exporters"]["otlp"]["tls"]["ca_file"]
    mount, volume = _mount_for(gw, ca_file)
    items = {i["path"]: i["key"] for i in volume["secret"]["items"]}
    rel = str(PurePosixPath(ca_file).relative_to(mount["mountPath"]))
    assert items[rel] == "ca.crt"


# --- StatefulSet and store ----------------------------------------------------------------------


def test_central_store_lives_on_the_persistent_volume_claim():
    objs, central = _central()
    config = collector_config(objs, central)
    store = config["extensions"]["trace_store"]
    assert store["engine"] == "chdb"
    mount, volume = _mount_for(central, store["path"])
    assert "persistentVolumeClaim" in volume
    assert volume["persistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"]
    assert "readOnly" not in mount
    assert central["spec"]["replicas"] == 1  # chDB: one process owns the store
    governing = find(objs, "Service", central["spec"]["serviceName"])
    assert governing["spec"]["clusterIP"] == "None"
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["trace_store"]
    assert config["extensions"]["trace_query"]["storage"] == "trace_store"
    query = find(objs, "Service", "cobalt-trace-query")
    assert (
        query["spec"]["ports"][0]["port"] == _port_of(config["extensions"]["trace_query"]["endpoint"]) == 3200
    )
    assert container(central)["image"] == "cobalt-trace-central:0.1.0"


# --- NetworkPolicies ----------------------------------------------------------------------------


def _rules_admitting(policy: dict, port: int) -> list[dict]:
    rules = policy["spec"]["ingress"]
    for r in rules:
        assert r.get("ports"), "a rule without ports admits every port"
    return [r for r in rules if any(p["port"] == port for p in r["ports"])]


def test_central_accepts_otlp_only_from_gateways():
    objs, central = _central()
    policy = find(objs, "NetworkPolicy", "cobalt-trace-central")
    assert selects(policy["spec"]["podSelector"], central["spec"]["template"]["metadata"]["labels"])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = _rules_admitting(policy, 4317)
    gateway_labels = [_gateway(o)[1]["spec"]["template"]["metadata"]["labels"] for o in GATEWAY_OVERLAYS]
    pod_peers = [p for p in rule["from"] if "podSelector" in p]
    ip_peers = [p for p in rule["from"] if "ipBlock" in p]
    assert pod_peers and len(pod_peers) + len(ip_peers) == len(rule["from"])
    for peer in pod_peers:
        assert peer["podSelector"].get("matchLabels"), "an empty podSelector would admit every pod"
        assert all(selects(peer["podSelector"], labels) for labels in gateway_labels)
        assert not selects(peer["podSelector"], central["spec"]["template"]["metadata"]["labels"])
        assert not selects(peer["podSelector"], {"app": "nova-api", "app.kubernetes.io/name": "nova"})
    for peer in ip_peers:
        assert not peer["ipBlock"]["cidr"].endswith("/0")
    (query_rule,) = _rules_admitting(policy, 3200)
    assert 4317 not in {p["port"] for p in query_rule["ports"]}


@pytest.mark.parametrize("overlay", GATEWAY_OVERLAYS)
def test_gateway_peer_port_is_open_only_to_gateway_replicas(overlay):
    objs, gw = _gateway(overlay)
    labels = gw["spec"]["template"]["metadata"]["labels"]
    policy = find(objs, "NetworkPolicy", "otel-collector")
    assert selects(policy["spec"]["podSelector"], labels)
    (rule,) = _rules_admitting(policy, 4319)
    assert [set(p) for p in rule["from"]] == [{"podSelector"}]
    assert selects(rule["from"][0]["podSelector"], labels)
    assert {p["port"] for p in rule["ports"]} == {4319}
    (otlp_rule,) = _rules_admitting(policy, 4317)
    assert {p["port"] for p in otlp_rule["ports"]} == {4317, 4318}


# --- Pod security -------------------------------------------------------------------------------


def test_pods_run_as_non_root_with_a_read_only_root_filesystem():
    seen = 0
    for _overlay, _objs, w in _all_workloads():
        spec = pod_spec(w)
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True
        assert psc["runAsUser"] == RUN_AS and psc["runAsGroup"] == RUN_AS
        assert psc["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc.get("runAsUser", RUN_AS) != 0
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert not sc.get("privileged", False)
            # With a read-only root, /tmp must be a volume (HOME=/tmp in the image).
            _mount_for(w, "/tmp/x")
        seen += 1
    assert seen == 3


def test_namespace_enforces_restricted_pod_security():
    for overlay in OVERLAYS:
        ns = find(render(overlay), "Namespace")
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
