"""Shared helpers of the deploy tests: the renderer (deploy/render.py), rendered overlays, lookups."""

from __future__ import annotations

import copy
import functools
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

__all__ = [
    "DEPLOY",
    "KUSTOMIZE_DIR",
    "OVERLAYS",
    "GATEWAY_OVERLAYS",
    "ROOT",
    "collector_config",
    "container",
    "find",
    "find_all",
    "kubectl_kustomize",
    "local_files",
    "pod_env",
    "pod_spec",
    "render",
    "renderer",
    "rewrite_paths",
    "selects",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUSTOMIZE_DIR = DEPLOY / "kubernetes"
OVERLAYS = ("management", "control-plane", "hypervisor")
GATEWAY_OVERLAYS = ("control-plane", "hypervisor")


@functools.cache
def renderer():
    """deploy/render.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("cobalt_deploy_render", DEPLOY / "render.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@functools.cache
def _render_cached(path: str) -> list[dict]:
    return renderer().render(path)


def render(target: str | Path) -> list[dict]:
    """Objects of an overlay name ("management") or any kustomization directory; a fresh copy."""
    path = KUSTOMIZE_DIR / "overlays" / target if target in OVERLAYS else Path(target)
    return copy.deepcopy(_render_cached(str(path)))


def kubectl_kustomize(path: Path) -> list[dict] | None:
    """`kubectl kustomize path`, or None when kubectl (with kustomize built in) is not installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    probe = subprocess.run([kubectl, "kustomize", "--help"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return None
    out = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


def find_all(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def find(objs: list[dict], kind: str, name: str | None = None) -> dict:
    """The one object of `kind` (named `name`, or the only one of that kind)."""
    hits = [o for o in find_all(objs, kind) if name is None or o["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in hits]}"
    return hits[0]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload: dict) -> dict:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, "each collector pod runs one container"
    return containers[0]


def selects(selector: dict, labels: dict) -> bool:
    """Does a label selector (matchLabels form, or a Service's plain map) select `labels`?"""
    match = selector.get("matchLabels", selector) if "matchExpressions" not in selector else None
    assert match is not None, "matchExpressions are not used in these manifests"
    return all(labels.get(k) == v for k, v in match.items())


def collector_config(objs: list[dict], workload: dict) -> dict:
    """The collector config a workload runs: its --config file inside the mounted ConfigMap."""
    c = container(workload)
    config_args = [a for a in c["args"] if a.startswith("--config=")]
    assert len(config_args) == 1, c["args"]
    path = Path(config_args[0].removeprefix("--config="))
    mount = next(m for m in c["volumeMounts"] if Path(m["mountPath"]) == path.parent)
    volume = next(v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"])
    cm = find(objs, "ConfigMap", volume["configMap"]["name"])
    return yaml.safe_load(cm["data"][path.name])


def pod_env(objs: list[dict], workload: dict) -> dict[str, str]:
    """The environment the collector sees: envFrom ConfigMaps, then env values."""
    env: dict[str, str] = {}
    c = container(workload)
    for ef in c.get("envFrom") or []:
        env.update(find(objs, "ConfigMap", ef["configMapRef"]["name"])["data"])
    for e in c.get("env") or []:
        assert "value" in e, f"only literal env values are expected, got {e}"
        env[e["name"]] = e["value"]
    return env


def rewrite_paths(node, files: dict[str, str]):
    """Replace the values of the keys in `files` anywhere in a config (TLS files, store path)."""
    if isinstance(node, dict):
        return {k: files[k] if k in files else rewrite_paths(v, files) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite_paths(v, files) for v in node]
    return node


def local_files(pki, tmp_path: Path) -> dict[str, str]:
    """Files of this machine for the in-cluster paths of the configs (the checks read certificates)."""
    return {
        "cert_file": str(pki.server.cert),
        "key_file": str(pki.server.key),
        "ca_file": str(pki.ca.cert),
        "path": str(tmp_path / "store"),
    }
