"""deploy/compose.yaml against the Compose specification schema, and what it starts with.

Docker is not part of the test machine: the file is validated by the schema, and the
environment compose gives each worker is rebuilt from the files as compose reads them
(tests/deploy/compose_env.py) and loaded into the settings. tests/e2e/test_deploy_env.py
starts a worker with that environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stream.core.policy_loader import load_policy
from stream.settings import Settings
from tests.deploy.compose_env import EnvFileError, parse_env_file, service_environment
from tests.deploy.conftest import DEPLOY, docs, new_secrets, schema_validator

WORKERS = ("worker-1", "worker-2")


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as the worker builds them from exactly ``env``."""
    import os

    for name in [n for n in os.environ if n.startswith("SCRAPEGUARD_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_compose_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    errors = sorted(schema_validator("compose-spec.json").iter_errors(compose), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def test_the_schema_check_catches_a_mistake(compose: dict[str, Any]) -> None:
    bad = yaml.safe_load(yaml.safe_dump(compose))
    bad["services"]["worker-1"]["depends_on"]["kafka"]["condition"] = "healthy"
    bad["services"]["worker-2"]["restart_policy"] = "always"
    errors = " | ".join(e.message for e in schema_validator("compose-spec.json").iter_errors(bad))
    assert "'condition': 'healthy'" in errors and "'restart_policy' w" in errors


def test_the_env_example_loads_as_shipped(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert parse_env_file(DEPLOY / "scrapeguard.env.example")  # compose's format, no guessing
    for worker in WORKERS:
        env = service_environment(compose, worker, DEPLOY, {"secrets.env": new_secrets()})
        assert not [k for k, v in env.items() if v == ""], "an empty value is not 'unset'"
        s = settings_from(env, monkeypatch)
        assert s.broker == "kafka://kafka:9092" and s.web_host == "0.0.0.0"
        assert s.control_key is not None and s.ledger_key is not None
        load_policy(s.policy_file)  # the packaged default: no policy path in the example


def test_the_env_loader_reads_compose_semantics(tmp_path: Path) -> None:
    f = tmp_path / "x.env"
    f.write_text("# comment\n\nA=1\nB=\nC=a=b\n")
    assert parse_env_file(f) == {"A": "1", "B": "", "C": "a=b"}  # KEY= is the empty string
    for line in ('Q="quoted"', "I=1 # inline", "V=${HOME}", "export E=1", "NOEQUALS"):
        f.write_text(line + "\n")
        with pytest.raises(EnvFileError, match=r"x\.env:1"):
            parse_env_file(f)


def test_two_workers_with_their_own_urls_and_published_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    urls, host_ports = set(), set()
    for name in WORKERS:
        w = services[name]
        assert w["hostname"] == name
        assert w["environment"]["SCRAPEGUARD_ADVERTISED_URL"] == f"http://{name}:6066"
        urls.add(w["environment"]["SCRAPEGUARD_ADVERTISED_URL"])
        (port,) = w["ports"]
        host, host_port, container = port.split(":")
        assert host == "127.0.0.1" and container == "6066"  # published on loopback only
        host_ports.add(host_port)
        assert w["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert (DEPLOY / w["build"]["context"] / w["build"]["dockerfile"]).exists()
        files = [e if isinstance(e, str) else e["path"] for e in w["env_file"]]
        assert files == ["scrapeguard.env.example", "scrapeguard.env", "secrets.env"]
    assert len(urls) == len(host_ports) == 2


def test_prometheus_scrapes_every_worker_and_loads_the_alerts(compose: dict[str, Any]) -> None:
    prom = compose["services"]["prometheus"]
    assert any(v.startswith("./prometheus:/etc/prometheus") for v in prom["volumes"])
    (config,) = docs(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"{w}:6066" for w in WORKERS]
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert (DEPLOY / "prometheus" / "alerts.yml").exists()


def test_grafana_is_provisioned_with_the_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./grafana/dashboards"] == "/var/lib/grafana/dashboards"
    (source,) = docs(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")[0][
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    (provider,) = docs(DEPLOY / "grafana" / "provisioning" / "dashboards" / "scrapeguard.yaml")[
        0
    ]["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert (DEPLOY / "grafana" / "dashboards" / "scrapeguard.json").exists()
    env = grafana["environment"]
    assert env["GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION"] == "true"  # no admin/admin
