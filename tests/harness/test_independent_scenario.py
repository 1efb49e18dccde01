"""The default model and policy on a scenario written apart from the personas
(:mod:`tests.harness.independent_scenario`), ten seeds: the issue's targets on traffic the
prior never saw — people acted on ≤ 0.1 % (at most 1 of the 1,720), every scraper acted on
(recall ≥ 0.99 for bulk, ≥ 0.9 for low-and-slow: 1.0 here), and the model ranking the
scrapers above the people.

Measured (docs/evaluation.md): 0 of 1,720 people acted on, every scraper acted on. With
``[score] challenge_alone`` at 0.97 it was 1 (a heavy recruiter on seed 9, score 0.971 past
the volume gates, challenged without a sign); the default is 0.99 since. Before a group
member needed a sign of automation as well as its score, and the prior was refitted
without ``follow_share``, 18 of the 1,720 were:
office workers behind their NAT, challenged for their group. The scenario's farm stays under
the group thresholds (four accounts to an address): it is caught by each member's own
score and signs; a second farm, 24 accounts on two addresses pausing as people do, is over
them and is challenged through its group: all 24 on every seed, 22-24 of them first for
the group's reason (all its accounts score 0.85 or more, where an office's share never
passed 11 %), the last within 24-39 min of its first request (scores >= 0.999).
"""

from __future__ import annotations

import functools

import pytest

from models import REGISTRY
from stream.core.policy_loader import load_policy
from stream.harness.labels import is_person
from stream.harness.offline import OfflineResult, OfflineRun
from stream.harness.ranking import roc_auc
from tests.harness.independent_scenario import scenario

SEEDS = range(1, 11)


@functools.cache
def run(seed: int) -> tuple[OfflineResult, dict[str, str]]:
    events, labels = scenario(seed)
    offline = OfflineRun(load_policy(), REGISTRY.get("ensemble").spec(), now=events[-1]["ts"])
    return offline.run(events), labels


def acted_on(res: OfflineResult) -> set[str]:
    return {d.actor for d in res.decisions if d.action in ("challenge", "block")}


def test_at_most_one_person_in_a_thousand_is_acted_on_over_ten_seeds() -> None:
    people_acted, people = [], 0
    for seed in SEEDS:
        res, labels = run(seed)
        mine = {a for a, lab in labels.items() if is_person(lab)}
        people += len(mine)
        people_acted += sorted(acted_on(res) & mine)
    assert people == 1720
    assert len(people_acted) <= people // 1000, people_acted


@pytest.mark.parametrize("seed", SEEDS)
def test_every_scraper_is_acted_on_and_ranked_above_the_people(seed: int) -> None:
    res, labels = run(seed)
    bots = {a for a, lab in labels.items() if not is_person(lab)}
    assert len(bots) == 60
    assert sorted(bots - acted_on(res)) == []
    assert set(res.max_score) >= bots  # scored (a person with under 5 requests may not be)
    auc = roc_auc(labels, res.max_score)
    assert auc is not None and auc >= 0.95, auc


@pytest.mark.parametrize("seed", SEEDS)
def test_a_farm_that_pauses_as_people_do_is_challenged_through_its_group(seed: int) -> None:
    """24 accounts on two addresses, each under the volume gates with no sign of its own:
    the group path challenges its members on their own scores, because the group's
    accounts all score high (``[groups] member_share_alone``)."""
    res, labels = run(seed)
    farm = {a for a, lab in labels.items() if lab == "paced_farm"}
    first: dict[str, list[str]] = {}
    for d in res.decisions:
        if d.actor in farm and d.action == "challenge":
            first.setdefault(d.actor, d.reasons)
    assert set(first) == farm
    by_group = [r[0] for r in first.values() if "accounts_per_ip" in r[0]]
    assert len(by_group) >= 18, {a: r[0] for a, r in first.items()}  # measured 22-24
    assert all("of its accounts scoring 0.85+" in r for r in by_group), by_group
