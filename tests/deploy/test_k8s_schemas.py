"""Every rendered object validates against a Kubernetes schema: core kinds with kubernetes-validate
(strict: unknown fields are errors), cert-manager's kinds with the schema in schemas/."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from k8s_manifests import OVERLAYS, find, render

K8S_VERSION = "1.30.0"
CERT_MANAGER_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "cert-manager-v1.json").read_text())


def _cert_manager_validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(CERT_MANAGER_SCHEMA)
    return jsonschema.Draft202012Validator(CERT_MANAGER_SCHEMA)


def validate(obj: dict) -> None:
    if obj["apiVersion"].startswith("cert-manager.io/"):
        _cert_manager_validator().validate(obj)
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def _objects(overlay: str) -> list[dict]:
    return render(overlay)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates(overlay):
    objs = _objects(overlay)
    assert objs
    failures = []
    for obj in objs:
        try:
            validate(obj)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not failures, "\n".join(failures)


def test_strict_validation_rejects_a_misspelt_field():
    deployment = find(_objects("control-plane"), "Deployment")
    bad = copy.deepcopy(deployment)
    bad["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"port": 13133}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)
    bad = copy.deepcopy(deployment)
    bad["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)


def test_cert_manager_schema_rejects_typos_and_missing_fields():
    cert = find(_objects("management"), "Certificate", "otel-collector-tls")
    validate(cert)
    for mutate in (
        lambda c: c["spec"].update(dnsName=["x"]),
        lambda c: c["spec"].pop("secretName"),
        lambda c: c["spec"]["issuerRef"].update(kind="Issuers"),
        lambda c: c["spec"].update(usages=["server-auth"]),
        lambda c: c["spec"].update(duration="90d"),
    ):
        bad = copy.deepcopy(cert)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)
    issuer = find(_objects("management"), "Issuer", "cobalt-trace-ca")
    validate(issuer)
    bad = copy.deepcopy(issuer)
    bad["spec"]["selfSigned"] = {}
    with pytest.raises(jsonschema.ValidationError):  # an Issuer is one kind of issuer
        validate(bad)
