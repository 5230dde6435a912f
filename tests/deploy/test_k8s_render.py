"""deploy/render.py: the kustomize subset renders the overlays as kustomize does."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from k8s_manifests import (
    KUSTOMIZE_DIR,
    OVERLAYS,
    find,
    find_all,
    kubectl_kustomize,
    pod_spec,
    render,
    renderer,
)

BASES = ("namespace", "gateway", "central")


def _key(obj: dict) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_into_namespace_observability(overlay):
    objs = render(overlay)
    assert find(objs, "Namespace")["metadata"]["name"] == "observability"
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "observability", _key(obj)
        assert obj["metadata"]["labels"]["cobalt-trace/cluster"] == overlay, _key(obj)
    assert len({_key(o) for o in objs}) == len(objs)


@pytest.mark.parametrize(
    "path", [f"overlays/{o}" for o in OVERLAYS] + [f"base/{b}" for b in BASES], ids=lambda p: p
)
def test_renderer_matches_kubectl_kustomize(path):
    theirs = kubectl_kustomize(KUSTOMIZE_DIR / path)
    if theirs is None:
        pytest.skip("kubectl with kustomize is not installed; the renderer's own tests still run")
    mine = render(KUSTOMIZE_DIR / path)
    assert [_key(o) for o in mine] == [_key(o) for o in theirs]  # same objects, same order
    for a, b in zip(mine, theirs, strict=True):
        assert a == b, _key(a)


def test_generated_configmaps_get_content_hash_names_and_references_follow():
    cp, hv = render("control-plane"), render("hypervisor")
    for objs in (cp, hv):
        names = {o["metadata"]["name"] for o in find_all(objs, "ConfigMap")}
        spec = pod_spec(find(objs, "Deployment", "otel-collector"))
        config_volume = next(v for v in spec["volumes"] if v["name"] == "config")
        env_from = spec["containers"][0]["envFrom"][0]["configMapRef"]["name"]
        assert config_volume["configMap"]["name"] in names
        assert env_from in names
        assert config_volume["configMap"]["name"].startswith("otel-collector-config-")
    # Same gateway config in both clusters; the cluster name lives in the env ConfigMap, so a
    # different cluster is a different name (and a change rolls the pods).
    assert {o["metadata"]["name"] for o in find_all(cp, "ConfigMap")} & {
        o["metadata"]["name"] for o in find_all(hv, "ConfigMap")
    } == {find_all(cp, "ConfigMap")[0]["metadata"]["name"]}


def test_configmap_hash_matches_kustomize_known_values():
    # Values printed by kustomize v5.5.0 (`kubectl kustomize`) for a literal-only generator.
    h = renderer().configmap_hash
    assert h({"data": {"foo": "bar"}}) == "798k5k7g9f"
    assert h({"data": {"foo": "bar", "baz": "q<x"}}) == "dggftcm94g"  # Go escapes '<' in JSON
    assert h({"data": {"foo": "baz"}}) != h({"data": {"foo": "bar"}})


def test_strategic_merge_merges_containers_by_name_and_replaces_plain_lists():
    merge = renderer().strategic_merge
    base = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x", "ports": [{"containerPort": 1}], "args": ["1", "2"]},
                {"name": "b", "image": "y"},
            ],
            "tolerations": [{"key": "k1"}],
            "dropped": {"x": 1},
        }
    }
    patch = {
        "spec": {
            "containers": [
                {"name": "a", "ports": [{"containerPort": 2}], "args": ["3"]},
                {"name": "c", "image": "z"},
            ],
            "tolerations": [{"key": "k2"}],
            "dropped": None,
        }
    }
    out = merge(base, patch)
    assert out["spec"]["containers"] == [
        {"name": "a", "image": "x", "ports": [{"containerPort": 1}, {"containerPort": 2}], "args": ["3"]},
        {"name": "b", "image": "y"},
        {"name": "c", "image": "z"},
    ]
    assert out["spec"]["tolerations"] == [{"key": "k2"}]
    assert "dropped" not in out["spec"]
    assert base["spec"]["containers"][0]["args"] == ["1", "2"]  # inputs untouched


def test_json_patch_add_replace_remove_and_errors():
    r = renderer()
    doc = {"spec": {"ingress": [{"from": [{"a": 1}]}], "x": {"y/z": 1}}}
    out = r.apply_json_patch(
        doc,
        [
            {"op": "add", "path": "/spec/ingress/0/from/-", "value": {"b": 2}},
            {"op": "add", "path": "/spec/ingress/0/from/0", "value": {"c": 3}},
            {"op": "replace", "path": "/spec/x/y~1z", "value": 5},
            {"op": "remove", "path": "/spec/ingress/0/from/1"},
        ],
    )
    assert out == {"spec": {"ingress": [{"from": [{"c": 3}, {"b": 2}]}], "x": {"y/z": 5}}}
    assert doc["spec"]["ingress"][0]["from"] == [{"a": 1}]
    with pytest.raises(r.KustomizeError, match="'nope' does not exist"):
        r.apply_json_patch(doc, [{"op": "replace", "path": "/spec/nope", "value": 1}])
    with pytest.raises(r.KustomizeError, match="only add, remove and replace"):
        r.apply_json_patch(doc, [{"op": "move", "from": "/spec/x", "path": "/spec/w"}])


def _write(directory, files: dict[str, str]):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text))
    return directory


CM = """\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: plain
    data: {a: "1"}
"""


def test_unsupported_kustomization_key_is_an_error_naming_it(tmp_path):
    r = renderer()
    d = _write(
        tmp_path / "k", {"kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: x-\n", "cm.yaml": CM}
    )
    with pytest.raises(r.KustomizeError, match=r"unsupported kustomization keys \['namePrefix'\]"):
        r.render(d)


def test_patch_matching_nothing_is_an_error(tmp_path):
    r = renderer()
    d = _write(
        tmp_path / "k",
        {
            "kustomization.yaml": """\
                resources: [cm.yaml]
                patches:
                  - patch: |
                      apiVersion: v1
                      kind: ConfigMap
                      metadata: {name: other}
                      data: {b: "2"}
            """,
            "cm.yaml": CM,
        },
    )
    with pytest.raises(r.KustomizeError, match="matches no resource"):
        r.render(d)


def test_generator_merge_needs_a_base_and_literals_need_equals(tmp_path):
    r = renderer()
    d = _write(
        tmp_path / "a",
        {
            "kustomization.yaml": "configMapGenerator:\n  - name: env\n    behavior: merge\n    literals: [A=1]\n"
        },
    )
    with pytest.raises(r.KustomizeError, match="no ConfigMap 'env' from a base to merge"):
        r.render(d)
    d = _write(
        tmp_path / "b", {"kustomization.yaml": "configMapGenerator:\n  - name: env\n    literals: [A]\n"}
    )
    with pytest.raises(r.KustomizeError, match="literal 'A' is not KEY=VALUE"):
        r.render(d)


def test_generator_merge_overrides_base_values(tmp_path):
    base = _write(
        tmp_path / "base",
        {"kustomization.yaml": "configMapGenerator:\n  - name: env\n    literals: [A=1, B=2]\n"},
    )
    overlay = _write(
        tmp_path / "overlay",
        {
            "kustomization.yaml": f"resources: [{base}]\nconfigMapGenerator:\n"
            "  - name: env\n    behavior: merge\n    literals: [B=3, C=4]\n"
        },
    )
    (cm,) = renderer().render(overlay)
    assert cm["data"] == {"A": "1", "B": "3", "C": "4"}
    assert cm["metadata"]["name"] == "env-" + renderer().configmap_hash(cm)


def test_cli_prints_yaml_and_reports_errors(tmp_path, capsys):
    r = renderer()
    assert r.main([str(KUSTOMIZE_DIR / "overlays" / "hypervisor")]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert {d["kind"] for d in docs} >= {"Namespace", "ConfigMap", "Service", "Deployment", "NetworkPolicy"}
    assert r.main([str(tmp_path)]) == 1
    assert "no kustomization.yaml" in capsys.readouterr().err
