"""The deployment files others start from: the Kubernetes manifests validate against the
Kubernetes schemas, every variable they set is a real setting, probes point at liveness and
readiness, and every Secret they read is documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

from interop.settings import InteropSettings
from issuers.settings import IssuerSettings
from offline.settings import OfflineSettings
from verifiers.settings import VerifierSettings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"
SETTINGS: dict[str, type[BaseSettings]] = {
    "HC_ISSUER_": IssuerSettings,
    "HC_VERIFIER_": VerifierSettings,
    "HC_INTEROP_": InteropSettings,
    "HC_OFFLINE_": OfflineSettings,
}
#: Variables read by something other than our settings (prometheus-client, the images).
FOREIGN = {"PROMETHEUS_MULTIPROC_DIR", "POSTGRES_USER", "POSTGRES_PASSWORD_FILE", "POSTGRES_DB"}


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append((path, document))
    return found


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    if document["kind"] not in ("Deployment", "StatefulSet"):
        return []
    containers: list[dict[str, Any]] = document["spec"]["template"]["spec"]["containers"]
    return containers


def _variables() -> dict[str, str]:
    """Every environment variable name the files set, with where."""
    names: dict[str, str] = {}
    for path, document in _documents():
        if document["kind"] == "ConfigMap" and document["metadata"]["name"].endswith("-config"):
            names.update(dict.fromkeys(document["data"], path.name))
        for container in _containers(document):
            names.update({item["name"]: path.name for item in container.get("env", [])})
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    for service in compose["services"].values():
        names.update(dict.fromkeys(service.get("environment", {}), "compose.yaml"))
    return names


def test_there_is_a_manifest_for_every_service() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in _documents()}
    for name in ("registry", "issuer-cn-sc", "checkpoint", "print-cn-sc"):
        assert ("Service", name) in kinds
        assert {("Deployment", name), ("StatefulSet", name)} & kinds
    assert ("HorizontalPodAutoscaler", "issuer-cn-sc") in kinds
    assert ("HorizontalPodAutoscaler", "checkpoint") in kinds


@pytest.mark.parametrize(
    ("path", "document"),
    [
        pytest.param(p, d, id=f"{p.name}:{d['kind']}/{d['metadata']['name']}")
        for p, d in _documents()
    ],
)
def test_each_manifest_validates_against_the_kubernetes_schema(
    path: Path, document: dict[str, Any]
) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_an_invalid_manifest_is_caught() -> None:
    _, deployment = next((p, d) for p, d in _documents() if d["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_variable_set_is_a_setting_of_its_service() -> None:
    unknown = []
    for name, where in sorted(_variables().items()):
        if name in FOREIGN:
            continue
        prefix = next((p for p in SETTINGS if name.startswith(p)), None)
        field = name.removeprefix(prefix or "").lower()
        if prefix is None or field not in SETTINGS[prefix].model_fields:
            unknown.append(f"{name} ({where})")
    assert unknown == []


def test_every_workload_probes_liveness_and_readiness() -> None:
    workloads = 0
    for _, document in _documents():
        for container in _containers(document):
            workloads += 1
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["securityContext"]["runAsNonRoot"] is True
            assert "limits" in container["resources"]
    assert workloads >= 4


def test_every_secret_read_is_documented_and_none_is_committed() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for _, document in _documents():
        assert document["kind"] != "Secret", "secrets are created outside the repository"
        for container in _containers(document):
            for item in container.get("env", []):
                reference = item.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    row = re.search(rf"^\| `{reference['name']}` \|(.*)$", readme, re.M)
                    assert row, reference["name"]
                    assert f"`{reference['key']}`" in row.group(1), reference


def test_compose_puts_haproxy_in_front_of_every_replicated_service() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    haproxy = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    replicated = [
        name
        for name, service in compose["services"].items()
        if service.get("deploy", {}).get("replicas", 1) > 1
    ]
    assert replicated
    for name in replicated:
        assert re.search(rf"server-template \S+ \d+ {name}:\d+ check", haproxy), name
    assert "option httpchk GET /readyz" in haproxy
