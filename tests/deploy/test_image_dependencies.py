"""The images install `pip install .` (gateway) or `.[store]` (central) and nothing else: every
third-party module the collector imports for the manifests' configs must come from a declared
dependency, or the pod crashes at start although the test venv (with every extra) passes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata

import yaml
from k8s_manifests import ROOT, collector_config, find, local_files, pod_env, render, rewrite_paths
from packaging.requirements import Requirement

# Loads the config as the image would: distributions the image does not install are made
# unimportable, so a hard import of one fails as in the pod, while optional imports (httpx tries
# zstandard, rich) fall back as they would there.
PROBE = textwrap.dedent(
    """
    import json, sys
    BLOCKED = set(json.loads(sys.argv[2]))

    class NotInImage:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (not installed in the image)", name=name)
            return None

    sys.meta_path.insert(0, NotInImage())
    from cobalt_trace.collector.app import validate_config
    print(json.dumps(validate_config([sys.argv[1]])))
    """
)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_closure(extras: tuple[str, ...] = ()) -> set[str]:
    """Distributions `pip install .[extras]` brings: declared requirements and theirs, recursively."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        todo += [Requirement(r) for r in project["optional-dependencies"][extra]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = _normalize(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here; its own requirements cannot be followed
        for text in requires:
            sub = Requirement(text)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                todo.append(sub)
    return seen


def blocked_modules(allowed: set[str]) -> set[str]:
    """Top-level modules that only distributions outside `allowed` provide.  (A namespace shared
    with an allowed distribution, such as `opentelemetry`, stays importable.)"""
    blocked = set()
    for module, dists in metadata.packages_distributions().items():
        if module == "cobalt_trace" or module in sys.stdlib_module_names:
            continue
        if not {_normalize(d) for d in dists} & allowed:
            blocked.add(module)
    return blocked


def load_as_in_image(config: dict, env: dict[str, str], tmp_path, extras: tuple[str, ...]):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    blocked = sorted(blocked_modules(declared_closure(extras) | {"cobalt-trace"}))
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(path), json.dumps(blocked)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_declared_closure_follows_requirements():
    closure = declared_closure()
    assert {"grpcio", "protobuf", "pyyaml"} <= closure
    assert "chdb" not in closure and "chdb" in declared_closure(("store",))
    blocked = blocked_modules(closure)
    assert "pytest" in blocked and "chdb" in blocked
    assert not {"grpc", "yaml", "google", "opentelemetry"} & blocked


def test_probe_fails_on_a_blocked_import(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "none.yaml"), json.dumps(["cobalt_trace"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "not installed in the image" in out.stderr


def test_gateway_imports_only_declared_dependencies(pki, tmp_path):
    objs = render("control-plane")
    gw = find(objs, "Deployment", "otel-collector")
    config = rewrite_paths(collector_config(objs, gw), local_files(pki, tmp_path))
    out = load_as_in_image(config, pod_env(objs, gw), tmp_path, ())
    assert out.returncode == 0 and json.loads(out.stdout) == [], out.stderr[-2000:]


def test_central_imports_only_declared_dependencies(pki, tmp_path):
    objs = render("management")
    central = find(objs, "StatefulSet", "cobalt-trace-central")
    config = rewrite_paths(collector_config(objs, central), local_files(pki, tmp_path))
    out = load_as_in_image(config, {}, tmp_path, ("store",))
    assert out.returncode == 0 and json.loads(out.stdout) == [], out.stderr[-2000:]
