#!/usr/bin/env python3
"""Render the kustomizations under deploy/kubernetes without kustomize.

    python deploy/render.py deploy/kubernetes/overlays/management   # YAML on stdout

Implements the subset of kustomize (v5) that these manifests use, with kustomize's results (the
tests compare both when `kubectl kustomize` is installed): `resources` (files and directories),
`namespace`, `labels` (without selectors or templates), `configMapGenerator` (files, literals,
behavior create/merge/replace, content-hash name suffix, references rewritten in pod specs),
`generatorOptions.disableNameSuffixHash`, `patches` (strategic merge or RFC 6902 JSON patch, by
`path` or inline `patch`, with an optional `target`) and `images`.  Anything else in a
kustomization is an error naming the key, so the renderer never silently differs from kustomize.
Needs only PyYAML.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "KustomizeError",
    "Resource",
    "apply_json_patch",
    "build",
    "configmap_hash",
    "render",
    "strategic_merge",
]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_KEYS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "configMapGenerator",
    "generatorOptions",
    "patches",
    "images",
}
# Kinds the namespace transformer leaves alone (cluster-scoped).
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ClusterIssuer",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# Strategic-merge list keys of the pod spec fields these manifests patch (from the Kubernetes
# API's patchMergeKey); other lists are replaced whole, as kustomize does.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeDevices": "devicePath",
}
# Kustomize's output order (its "legacy" sort): these kinds first, in this order, the rest after.
KIND_ORDER = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
]


class KustomizeError(ValueError):
    """A kustomization or patch this renderer cannot apply; the message names file and key."""


@dataclass
class Resource:
    obj: dict[str, Any]
    origin: str  # file it came from, for error messages
    generated_name: str = ""  # the generator's name when made by configMapGenerator
    hashed: bool = False

    @property
    def kind(self) -> str:
        return self.obj.get("kind", "")

    @property
    def name(self) -> str:
        return self.obj.get("metadata", {}).get("name", "")

    @property
    def group_version(self) -> tuple[str, str]:
        api = self.obj.get("apiVersion", "")
        group, _, version = api.rpartition("/")
        return group, version


# --- loading ---------------------------------------------------------------------------------


def _kustomization_file(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    raise KustomizeError(f"{directory}: no kustomization.yaml")


def _load_docs(path: Path) -> list[dict]:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as exc:
        raise KustomizeError(f"{path}: not YAML: {exc}") from None
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
            raise KustomizeError(f"{path}: document {i} is not a Kubernetes object (kind, metadata)")
    return docs


# --- strategic merge and JSON patch ----------------------------------------------------------


def strategic_merge(base: Any, patch: Any, key: str = "") -> Any:
    """The strategic-merge-patch subset: maps merge, null deletes, lists of known merge keys merge
    item by item, other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = strategic_merge(out[k], v, k)
            else:
                out[k] = copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        merge_key = MERGE_KEYS.get(key)
        if key == "ports" and all(isinstance(p, dict) and "containerPort" in p for p in base + patch):
            merge_key = "containerPort"
        if merge_key is None:
            return copy.deepcopy(patch)
        out = [copy.deepcopy(item) for item in base]
        for item in patch:
            if not isinstance(item, dict) or merge_key not in item:
                raise KustomizeError(f"{key}: each patch item needs its merge key {merge_key!r}")
            for i, existing in enumerate(out):
                if existing.get(merge_key) == item[merge_key]:
                    out[i] = strategic_merge(existing, item, key)
                    break
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"JSON patch path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    for p in parts:
        try:
            doc = doc[int(p)] if isinstance(doc, list) else doc[p]
        except (KeyError, IndexError, ValueError, TypeError):
            raise KustomizeError(f"JSON patch path {path!r}: {p!r} does not exist") from None
    return doc


def apply_json_patch(doc: dict, ops: list[dict]) -> dict:
    """RFC 6902 add, remove and replace (the operations these manifests use)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind not in ("add", "remove", "replace"):
            raise KustomizeError(f"JSON patch op {kind!r} at {path!r}: only add, remove and replace")
        *parents, last = _pointer(path)
        parent = _walk(doc, parents, path)
        if isinstance(parent, list):
            if kind == "add":
                index = len(parent) if last == "-" else int(last)
                if not 0 <= index <= len(parent):
                    raise KustomizeError(f"JSON patch path {path!r}: index out of range")
                parent.insert(index, copy.deepcopy(op["value"]))
                continue
            _walk(parent, [last], path)  # must exist for remove/replace
            if kind == "remove":
                del parent[int(last)]
            else:
                parent[int(last)] = copy.deepcopy(op["value"])
        elif isinstance(parent, dict):
            if kind != "add" and last not in parent:
                raise KustomizeError(f"JSON patch path {path!r}: {last!r} does not exist")
            if kind == "remove":
                del parent[last]
            else:
                parent[last] = copy.deepcopy(op["value"])
        else:
            raise KustomizeError(f"JSON patch path {path!r}: parent is not a map or list")
    return doc


# --- generators ------------------------------------------------------------------------------


def _go_json(value: Any) -> str:
    """Go's encoding/json output for maps of strings: sorted keys, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def configmap_hash(cm: dict) -> str:
    """kustomize's name suffix for a generated ConfigMap.

    kustomize v5 hashes kind, data and binaryData; its lookup of the name uses the path
    "metadata/name" as one key, which finds nothing, so the name is always "" (checked against
    `kubectl kustomize`)."""
    encoded: dict[str, Any] = {"kind": "ConfigMap", "name": "", "data": cm.get("data") or {}}
    if cm.get("binaryData"):
        encoded["binaryData"] = cm["binaryData"]
    digest = hashlib.sha256(_go_json(encoded).encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _generator_data(base: Path, gen: dict, where: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for entry in gen.get("files", []):
        key, sep, rel = str(entry).partition("=")
        if not sep:
            key, rel = Path(entry).name, entry
        path = base / rel
        if not path.is_file():
            raise KustomizeError(f"{where}: file {rel!r} not found")
        data[key] = path.read_text()
    for entry in gen.get("literals", []):
        key, sep, value = str(entry).partition("=")
        if not sep or not key:
            raise KustomizeError(f"{where}: literal {entry!r} is not KEY=VALUE")
        data[key] = value
    return data


def _generate(base: Path, kust: dict, resources: list[Resource], kfile: Path) -> None:
    options = kust.get("generatorOptions") or {}
    unknown = set(options) - {"disableNameSuffixHash"}
    if unknown:
        raise KustomizeError(f"{kfile}: generatorOptions: unsupported {sorted(unknown)}")
    for i, gen in enumerate(kust.get("configMapGenerator") or []):
        where = f"{kfile}: configMapGenerator[{i}]"
        unknown = set(gen) - {"name", "files", "literals", "behavior", "options"}
        if unknown:
            raise KustomizeError(f"{where}: unsupported {sorted(unknown)}")
        name, behavior = gen.get("name"), gen.get("behavior", "create")
        if not name:
            raise KustomizeError(f"{where}: name is required")
        data = _generator_data(base, gen, where)
        hashed = not (
            options.get("disableNameSuffixHash") or (gen.get("options") or {}).get("disableNameSuffixHash")
        )
        existing = [r for r in resources if r.kind == "ConfigMap" and r.generated_name == name]
        if behavior == "create":
            if existing:
                raise KustomizeError(f"{where}: ConfigMap {name!r} exists; use behavior merge or replace")
            cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
            resources.append(Resource(cm, str(kfile), generated_name=name, hashed=hashed))
        elif behavior in ("merge", "replace"):
            if not existing:
                raise KustomizeError(f"{where}: no ConfigMap {name!r} from a base to {behavior}")
            target = existing[0]
            merged = dict(target.obj.get("data") or {}) if behavior == "merge" else {}
            merged.update(data)
            target.obj["data"] = merged
        else:
            raise KustomizeError(f"{where}: behavior {behavior!r} is not create, merge or replace")


# --- transformers ----------------------------------------------------------------------------


def _matches(res: Resource, target: dict) -> bool:
    group, version = res.group_version
    checks = {
        "group": group,
        "version": version,
        "kind": res.kind,
        "name": res.name,
        "namespace": res.obj["metadata"].get("namespace", ""),
    }
    unknown = set(target) - set(checks)
    if unknown:
        raise KustomizeError(f"patch target: unsupported selector {sorted(unknown)}")
    return all(checks[k] == v for k, v in target.items())


def _apply_patches(base: Path, kust: dict, resources: list[Resource], kfile: Path) -> None:
    for i, spec in enumerate(kust.get("patches") or []):
        where = f"{kfile}: patches[{i}]"
        unknown = set(spec) - {"path", "patch", "target"}
        if unknown:
            raise KustomizeError(f"{where}: unsupported {sorted(unknown)}")
        if ("path" in spec) == ("patch" in spec):
            raise KustomizeError(f"{where}: give exactly one of path or patch")
        text = (base / spec["path"]).read_text() if "path" in spec else spec["patch"]
        body = yaml.safe_load(text)
        target = spec.get("target")
        if isinstance(body, list):
            if not target:
                raise KustomizeError(f"{where}: a JSON patch needs a target")
            hits = [r for r in resources if _matches(r, target)]
            for r in hits:
                r.obj = apply_json_patch(r.obj, body)
        elif isinstance(body, dict):
            if target is None:
                target = {"kind": body.get("kind"), "name": body.get("metadata", {}).get("name")}
            hits = [r for r in resources if _matches(r, target)]
            for r in hits:
                patch = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
                patch["metadata"] = {k: v for k, v in body.get("metadata", {}).items() if k != "name"}
                r.obj = strategic_merge(r.obj, patch)
        else:
            raise KustomizeError(f"{where}: patch is neither a map nor a list of operations")
        if not hits:
            raise KustomizeError(f"{where}: target {target} matches no resource")


def _set_namespace(namespace: str, resources: list[Resource]) -> None:
    for r in resources:
        if r.kind not in CLUSTER_SCOPED:
            r.obj["metadata"]["namespace"] = namespace


def _add_labels(kust: dict, resources: list[Resource], kfile: Path) -> None:
    for i, entry in enumerate(kust.get("labels") or []):
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise KustomizeError(f"{kfile}: labels[{i}]: includeSelectors/includeTemplates are not supported")
        unknown = set(entry) - {"pairs", "includeSelectors", "includeTemplates"}
        if unknown:
            raise KustomizeError(f"{kfile}: labels[{i}]: unsupported {sorted(unknown)}")
        for r in resources:
            r.obj["metadata"].setdefault("labels", {}).update(entry.get("pairs") or {})


def _pod_spec(obj: dict) -> dict | None:
    if obj.get("kind") in WORKLOAD_KINDS:
        return obj.get("spec", {}).get("template", {}).get("spec")
    if obj.get("kind") == "CronJob":
        return obj.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
    if obj.get("kind") == "Pod":
        return obj.get("spec")
    return None


def _containers(obj: dict) -> list[dict]:
    spec = _pod_spec(obj) or {}
    return [c for key in ("initContainers", "containers") for c in spec.get(key) or []]


def _split_image(image: str) -> tuple[str, str, str]:
    """image → (name, tag, digest)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest


def _set_images(kust: dict, resources: list[Resource], kfile: Path) -> None:
    for i, entry in enumerate(kust.get("images") or []):
        unknown = set(entry) - {"name", "newName", "newTag", "digest"}
        if unknown or not entry.get("name"):
            raise KustomizeError(f"{kfile}: images[{i}]: needs name; unsupported {sorted(unknown)}")
        for r in resources:
            for c in _containers(r.obj):
                name, tag, digest = _split_image(c.get("image", ""))
                if name != entry["name"]:
                    continue
                name = entry.get("newName", name)
                if "digest" in entry:
                    c["image"] = f"{name}@{entry['digest']}"
                else:
                    tag = str(entry.get("newTag", tag))
                    c["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _configmap_refs(obj: dict):
    """Yield (holder, key) for every ConfigMap name a pod spec refers to."""
    spec = _pod_spec(obj)
    if spec is None:
        return
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            yield v["configMap"], "name"
        for source in (v.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                yield source["configMap"], "name"
    for c in _containers(obj):
        for ef in c.get("envFrom") or []:
            if "configMapRef" in ef:
                yield ef["configMapRef"], "name"
        for e in c.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if ref is not None:
                yield ref, "name"


def _hash_names(resources: list[Resource]) -> None:
    renamed: dict[tuple[str, str], str] = {}
    for r in resources:
        if r.generated_name and r.hashed:
            new = f"{r.generated_name}-{configmap_hash(r.obj)}"
            r.obj["metadata"]["name"] = new
            renamed[(r.obj["metadata"].get("namespace", ""), r.generated_name)] = new
    for r in resources:
        ns = r.obj["metadata"].get("namespace", "")
        for holder, key in _configmap_refs(r.obj):
            holder[key] = renamed.get((ns, holder.get(key)), holder.get(key))


# --- build -----------------------------------------------------------------------------------


def _build(directory: Path, seen: tuple[Path, ...]) -> list[Resource]:
    directory = directory.resolve()
    if directory in seen:
        raise KustomizeError(f"{directory}: kustomization includes itself")
    kfile = _kustomization_file(directory)
    kust = yaml.safe_load(kfile.read_text()) or {}
    if not isinstance(kust, dict):
        raise KustomizeError(f"{kfile}: not a map")
    unknown = set(kust) - SUPPORTED_KEYS
    if unknown:
        raise KustomizeError(f"{kfile}: unsupported kustomization keys {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kust.get("resources") or []:
        path = directory / entry
        if path.is_dir():
            resources += _build(path, (*seen, directory))
        elif path.is_file():
            resources += [Resource(d, str(path)) for d in _load_docs(path)]
        else:
            raise KustomizeError(f"{kfile}: resource {entry!r} not found")
    _generate(directory, kust, resources, kfile)
    _apply_patches(directory, kust, resources, kfile)
    if kust.get("namespace"):
        _set_namespace(kust["namespace"], resources)
    _add_labels(kust, resources, kfile)
    _set_images(kust, resources, kfile)
    ids = [(r.kind, r.obj["metadata"].get("namespace", ""), r.generated_name or r.name) for r in resources]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise KustomizeError(f"{kfile}: duplicate resources {sorted(duplicates)}")
    return resources


def build(directory: str | Path) -> list[Resource]:
    resources = _build(Path(directory), ())
    _hash_names(resources)
    return resources


def _order(obj: dict) -> tuple:
    kind = obj.get("kind", "")
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    meta = obj.get("metadata", {})
    return (rank, kind, meta.get("namespace", ""), meta.get("name", ""))


def render(directory: str | Path) -> list[dict]:
    """The objects `kubectl kustomize directory` prints, in kustomize's order."""
    return sorted((r.obj for r in build(directory)), key=_order)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: render.py KUSTOMIZATION_DIR", file=sys.stderr)
        return 2
    try:
        objs = render(argv[0])
    except KustomizeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(yaml.safe_dump_all(objs, sort_keys=True, default_flow_style=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
