"""The default model and policy on web sessions written apart from the simulator's web mode
(:mod:`tests.harness.independent_web_sessions`): a content site's log in a public web-bot
dataset's layout, read by ``replay``'s own format detection and parser, five seeds of 120
people, 40 *moderate* bots (a browser clicking at once) and 40 *advanced* ones (a browser
clicking after a reader's pause). The issue's target for such sessions is ROC AUC ≥ 0.90
for each bot kind, by each actor's highest score (as ``evaluate`` ranks).

Measured (docs/evaluation.md): moderate 0.992-1.000, advanced 0.950-0.971 (mean 0.958);
no person acted on, and no bot either — the site has no profiles, so no score passes the
policy's evidence gates. The figures rest on one assumption of the scenario, stated in
docs/evaluation.md with the figures without it: people go back to pages they saw (a
quarter of their clicks start from an earlier page), scripted browsers do not.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from models import REGISTRY
from stream.core.policy_loader import load_policy
from stream.harness.access_log import LogParser
from stream.harness.log_formats import detect_format
from stream.harness.log_replay import parse_log
from stream.harness.offline import OfflineResult, OfflineRun
from stream.harness.ranking import roc_auc
from tests.harness.independent_web_sessions import log_lines

SEEDS = range(1, 6)


@functools.cache
def run(seed: int, tmp: Path) -> tuple[OfflineResult, dict[str, str], int]:
    lines, by_session = log_lines(seed)
    path = tmp / f"access-{seed}.log"
    path.write_text("\n".join(lines) + "\n")
    found = detect_format(path)
    assert found.name == "session id, without a remote user", found
    replay = parse_log(path, LogParser(found.fmt, source=path.name))
    assert replay.report.bad == 0
    events = list(replay.events())
    # the landing request of each session has no session yet ("-"): no actor, as in the
    # dataset; the worker sends such an event to the dead-letter topic
    with_actor = [e for e in events if "session_id" in e]
    assert len(events) - len(with_actor) == len(by_session)
    labels = {f"session:{sid}": kind for sid, kind in by_session.items()}
    offline = OfflineRun(load_policy(), REGISTRY.get("ensemble").spec(), now=events[-1]["ts"])
    return offline.run(with_actor), labels, len(events)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web-sessions")


def auc_for(kind: str, res: OfflineResult, labels: dict[str, str]) -> float:
    mine = {a: lab for a, lab in labels.items() if lab in ("human", kind)}
    assert set(mine) <= set(res.max_score), "every session has 10+ requests: all are scored"
    auc = roc_auc(mine, res.max_score)
    assert auc is not None
    return auc


@pytest.mark.parametrize("seed", SEEDS)
def test_browser_bots_rank_above_the_people_and_no_one_is_acted_on(seed: int, tmp: Path) -> None:
    res, labels, n = run(seed, tmp)
    assert n > 10_000
    assert auc_for("moderate_bot", res, labels) >= 0.95
    assert auc_for("advanced_bot", res, labels) >= 0.90
    assert [d.actor for d in res.decisions if d.action in ("challenge", "block")] == []


def test_paced_browser_bots_rank_above_the_people_over_five_seeds(tmp: Path) -> None:
    aucs = [auc_for("advanced_bot", *run(seed, tmp)[:2]) for seed in SEEDS]
    assert sum(aucs) / len(aucs) >= 0.94, aucs
