"""The alert rules, the Grafana dashboard and the autoscaler's query ask for series the
worker really exposes, in valid PromQL (parsed with promql-parser), and the compose and
Kubernetes copies of the alert rules are the same."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import promql_parser as promql
import pytest

from stream.runtime.metrics import Metrics
from tests.deploy.conftest import DEPLOY, docs

# labels Prometheus or the Prometheus Operator add to every scraped series
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def exposed() -> dict[str, set[str]]:
    """Series name → label names, for everything a worker's /metrics can show."""
    m = Metrics()
    # one sample of each labelled series, so that its label names show
    m.stats.agents["detector"] = Counter()
    m.stats.models = Counter(control_refused_bad_signature=1)
    m.lag_of("g").update({("requests", 0): 1})
    m.batch_duration.labels("detector").observe(0.01)
    m.decisions.labels("block", "profiles_per_hour", "false").inc()
    m.deadletter.labels("bad_json").inc()
    m.scores.labels("live").observe(0.5)
    m.model.labels("live", "hst@1").set(1)
    out: dict[str, set[str]] = {}
    for family in m.registry.collect():
        labels = {k for s in family.samples for k in s.labels}
        for suffix in SUFFIXES.get(family.type, ("",)):
            out[family.name + suffix] = set(labels)
    return out


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names it filters or groups on) of each selector in ``expr``."""
    found: list[tuple[str, set[str]]] = []
    grouped: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql.VectorSelector):
            found.append((node.name, {m.name for m in node.matchers.matchers}))
        elif isinstance(node, promql.AggregateExpr) and node.modifier is not None:
            grouped.update(node.modifier.labels)

    promql.walk(promql.parse(expr.replace("$__rate_interval", "1m")), visit)
    return [(name, labels | grouped) for name, labels in found]


def check(expr: str, series: dict[str, set[str]]) -> list[str]:
    problems = []
    for name, labels in selectors(expr):
        if name not in series:
            problems.append(f"{name} is not a metric of the worker")
        elif unknown := labels - series[name] - TARGET_LABELS:
            problems.append(f"{name} has no label {sorted(unknown)}")
    return problems


def alert_rules() -> list[dict[str, Any]]:
    (doc,) = docs(DEPLOY / "prometheus" / "alerts.yml")
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "scrapeguard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_the_worker_exposes_what_the_monitoring_asks_for() -> None:
    series = exposed()
    assert "scrapeguard_consumer_lag_records" in series and "process_cpu_seconds_total" in series
    (scaled,) = docs(DEPLOY / "k8s" / "scaledobject.yaml")
    exprs = [r["expr"] for r in alert_rules()] + dashboard_exprs()
    exprs += [t["metadata"]["query"] for t in scaled["spec"]["triggers"]]
    problems = [f"{e!r}: {p}" for e in exprs for p in check(e, series)]
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_wrong_name_or_label() -> None:
    series = exposed()
    assert check("sum(rate(scrapeguard_consumer_lag[5m]))", series) == [
        "scrapeguard_consumer_lag is not a metric of the worker"
    ]
    assert check('sum by (shard) (scrapeguard_consumer_lag_records{group="x"})', series) == [
        "scrapeguard_consumer_lag_records has no label ['shard']"
    ]
    with pytest.raises(ValueError):
        promql.parse("sum(rate(scrapeguard_events_total[5m])")


def test_the_issue_alerts_are_there() -> None:
    names = {r["alert"] for r in alert_rules()}
    assert {
        "ScrapeguardConsumerLagHigh",
        "ScrapeguardDeadLetterRateHigh",
        "ScrapeguardNoDecisions",
        "ScrapeguardModelRefused",
    } <= names
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_kubernetes_and_compose_alert_the_same() -> None:
    (rule,) = docs(DEPLOY / "k8s" / "prometheusrule.yaml")
    (compose_rules,) = docs(DEPLOY / "prometheus" / "alerts.yml")
    assert rule["spec"]["groups"] == compose_rules["groups"]


def test_the_dashboard_uses_the_provisioned_datasource() -> None:
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "scrapeguard.json").read_text())
    (source,) = docs(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")[0][
        "datasources"
    ]
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert len(panels) >= 10 and dash["uid"] == "scrapeguard"
    assert {p["datasource"]["uid"] for p in panels} == {source["uid"]}
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
