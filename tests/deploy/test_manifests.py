"""deploy/: Kubernetes manifests against the API schemas, compose and image consistency."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from stream.core.policy_loader import parse_policy
from stream.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = sorted(p for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")
K8S_VERSION = "1.30.0"


def docs(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("path", K8S, ids=[p.name for p in K8S])
def test_manifest_is_valid_against_the_kubernetes_schema(path: Path) -> None:
    for doc in docs(path):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_invalid_manifest_is_caught() -> None:
    bad = docs(DEPLOY / "k8s" / "deployment.yaml")[0]
    bad["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kust = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert sorted(kust["resources"]) == sorted(p.name for p in K8S)


def test_workers_fit_partitions_probes_and_scraping() -> None:
    (cm,) = docs(DEPLOY / "k8s" / "configmap.yaml")
    (dep,) = docs(DEPLOY / "k8s" / "deployment.yaml")
    assert dep["spec"]["replicas"] <= int(cm["data"]["SCRAPEGUARD_PARTITIONS"])
    pod = dep["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    parse_policy(cm["data"]["policy.toml"])  # the shipped policy is valid


def test_configured_names_are_real_settings() -> None:
    known = {f"SCRAPEGUARD_{n.upper()}" for n in Settings.model_fields}
    (cm,) = docs(DEPLOY / "k8s" / "configmap.yaml")
    (secret,) = docs(DEPLOY / "k8s" / "secret.yaml")
    names = {k for k in cm["data"] if k.startswith("SCRAPEGUARD_")} | set(secret["stringData"])
    assert names <= known, names - known
    secrets = {
        "SCRAPEGUARD_SASL_PASSWORD",
        "SCRAPEGUARD_PSEUDONYM_KEY",
        "SCRAPEGUARD_SNAPSHOT_KEY",
        "SCRAPEGUARD_CONTROL_KEY",
        "SCRAPEGUARD_LEDGER_KEY",
        "SCRAPEGUARD_API_TOKEN",
    }
    assert secrets <= set(secret["stringData"])  # no secret in the ConfigMap
    assert not secrets & set(cm["data"])


def test_compose_runs_kafka_kraft_and_workers() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    kafka, worker = compose["services"]["kafka"], compose["services"]["worker"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert worker["deploy"]["replicas"] >= 2
    assert (DEPLOY / worker["build"]["context"] / worker["build"]["dockerfile"]).exists()
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_image_runs_the_worker_as_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER \w+", text, re.M) and 'CMD ["worker"]' in text
    assert "EXPOSE 6066" in text and "/health/live" in text
