"""deploy/k8s/: core kinds against the Kubernetes API schemas (kubernetes-validate), custom
resources (KEDA, Prometheus Operator) against their published schemas (tests/deploy/schemas),
and what the manifests promise: probes, autoscaling bounds, scraping, network policy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from stream.core.policy_loader import parse_policy
from stream.settings import Settings
from tests.deploy.conftest import DEPLOY, docs, schema_validator

K8S = sorted(p for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")
K8S_VERSION = "1.30.0"
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobject_v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrule_v1.json",
}


def validate(doc: dict[str, Any]) -> None:
    """Against the published schema of its kind; raises on the first error."""
    key = (doc["apiVersion"], doc["kind"])
    if key in CRD_SCHEMAS:
        schema_validator(CRD_SCHEMAS[key]).validate(doc)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def one(name: str) -> dict[str, Any]:
    (doc,) = docs(DEPLOY / "k8s" / name)
    return doc


@pytest.mark.parametrize("path", K8S, ids=[p.name for p in K8S])
def test_manifest_is_valid_against_its_schema(path: Path) -> None:
    for doc in docs(path):
        validate(doc)


def test_every_custom_resource_has_its_schema() -> None:
    kinds = {(d["apiVersion"], d["kind"]) for p in K8S for d in docs(p)}
    group = lambda api_version: api_version.rpartition("/")[0]  # noqa: E731
    custom = {k for k in kinds if "." in group(k[0]) and not group(k[0]).endswith(".k8s.io")}
    assert custom == set(CRD_SCHEMAS)


@pytest.mark.parametrize(
    ("name", "path", "bad"),
    [
        ("deployment.yaml", ["spec", "replicas"], "three"),
        ("scaledobject.yaml", ["spec", "maxReplicaCount"], 0),
        ("servicemonitor.yaml", ["spec", "endpoints", 0, "interval"], "fifteen seconds"),
        ("prometheusrule.yaml", ["spec", "groups", 0, "rules", 0, "for"], "10 minutes"),
    ],
)
def test_an_invalid_manifest_is_caught(name: str, path: list[Any], bad: object) -> None:
    doc = one(name)
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(doc)


def test_kustomization_lists_every_manifest_and_generates_the_secret() -> None:
    kust = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert sorted(kust["resources"]) == sorted(p.name for p in K8S)
    (secret,) = kust["secretGenerator"]
    assert secret == {"name": "scrapeguard", "envs": ["secrets.env"]}
    assert kust["generatorOptions"]["disableNameSuffixHash"] is True  # referenced by name
    assert not (DEPLOY / "k8s" / "secret.yaml").exists()  # no example values shipped


def test_probes_serve_through_a_broker_blip() -> None:
    pod = one("deployment.yaml")["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/serving"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    refs = [e.get("secretRef", {}).get("name") for e in container["envFrom"]]
    assert "scrapeguard" in refs
    advertised = {e["name"]: e for e in container["env"]}["SCRAPEGUARD_ADVERTISED_URL"]
    assert advertised["value"] == "http://$(POD_IP):6066"  # each pod its own URL
    shipped = parse_policy(one("configmap.yaml")["data"]["policy.toml"])  # valid
    assert shipped.inert_settings() == []  # and says what it turns off


def test_autoscaling_on_detector_lag_is_capped_at_the_partition_count() -> None:
    cm, scaled = one("configmap.yaml"), one("scaledobject.yaml")
    spec = scaled["spec"]
    partitions = int(cm["data"]["SCRAPEGUARD_PARTITIONS"])
    assert spec["maxReplicaCount"] == partitions
    assert 2 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    assert spec["fallback"]["replicas"] <= partitions
    assert spec["scaleTargetRef"]["name"] == one("deployment.yaml")["metadata"]["name"]
    assert "replicas" not in one("deployment.yaml")["spec"]  # the autoscaler owns the count
    (trigger,) = spec["triggers"]
    group = f'group="{cm["data"]["SCRAPEGUARD_APP_ID"]}-detector"'
    assert trigger["type"] == "prometheus" and group in trigger["metadata"]["query"]
    assert "scrapeguard_consumer_lag_records" in trigger["metadata"]["query"]


def test_the_service_monitor_scrapes_the_workers_service() -> None:
    service, monitor = one("service.yaml"), one("servicemonitor.yaml")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}


def test_the_network_policy_opens_what_the_workers_use() -> None:
    policy, cm = one("networkpolicy.yaml"), one("configmap.yaml")
    pod_labels = one("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = policy["spec"]["ingress"]
    assert [p["port"] for p in ingress["ports"]] == ["http"]
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    broker_ports = {int(p) for p in re.findall(r":(\d+)", cm["data"]["SCRAPEGUARD_BROKER"])}
    assert broker_ports <= egress_ports  # Kafka
    assert {53, 6066} <= egress_ports  # DNS, peers (explain routing)


def test_configured_names_are_real_settings() -> None:
    known = {f"SCRAPEGUARD_{n.upper()}" for n in Settings.model_fields}
    names = {k for k in one("configmap.yaml")["data"] if k.startswith("SCRAPEGUARD_")}
    assert names <= known, names - known
    secrets = {"PSEUDONYM_KEY", "SNAPSHOT_KEY", "CONTROL_KEY", "LEDGER_KEY", "API_TOKEN"}
    assert not {f"SCRAPEGUARD_{s}" for s in secrets} & names  # no secret in the ConfigMap


def test_image_runs_the_worker_as_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER \w+", text, re.M) and 'CMD ["worker"]' in text
    assert "EXPOSE 6066" in text and "/health/live" in text
