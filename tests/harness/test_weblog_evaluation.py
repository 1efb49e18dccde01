"""An offline evaluation on a real web log (tests/data/apache_combined_2015.log, see its
README): actors that declared a crawler user agent against the rest, with the user agent
withheld from the model (``automation_ua`` and ``ua_count`` at their neutral values),
through the product's own pipeline (validation, features, the
default ensemble, policy).

The labels are weak: "the rest" holds undeclared automation too (feed readers, a
configuration-management client, clients with user agent "-"), so a perfect detector
would not reach 1.0. The issue's target is AUC ≥ 0.85; measured: 0.888 on each actor's
latest score, 0.875 on its maximum, every actor scored from its first event (0.880 / 0.874
with the prior that still used follow_share; 0.847 / 0.828 before the stream context
counted the batch being worked, so that the first batch of every partition saw its asset
and referrer features neutral). The floors below sit under
those figures to absorb small, honest changes of the prior; a model that lost its
behavioural features (or saw the user agent) would not stay in that range.
"""

from __future__ import annotations

import functools

from models import REGISTRY
from stream.core.policy_loader import default_policy_text, parse_policy
from stream.harness.access_log import LogParser
from stream.harness.controls import rules_only_policy
from stream.harness.log_replay import Replay, crawler_labels, parse_log
from stream.harness.offline import OfflineResult, OfflineRun
from stream.harness.ranking import roc_auc
from tests.helpers import REAL_LOG

NOW = 1.5e9  # after the log (May 2015): nothing is future-dated
WITHHELD = frozenset({"automation_ua", "ua_count"})  # every feature read from the user agent


@functools.cache
def replay() -> Replay:
    return parse_log(REAL_LOG, LogParser(source="apache"))


def policy_scoring_from_the_first_event() -> str:
    text = default_policy_text()
    assert "min_events = 5" in text
    return text.replace("min_events = 5", "min_events = 1")


@functools.cache
def run(rules_only: bool = False) -> OfflineResult:
    policy = parse_policy(policy_scoring_from_the_first_event())
    if rules_only:
        policy = rules_only_policy(policy)
    spec = REGISTRY.get("ensemble").spec()
    offline = OfflineRun(policy, spec, now=NOW, export_vectors=True, withhold=WITHHELD)
    return offline.run(replay().events())


def test_the_labels_are_the_declared_crawlers_of_the_log() -> None:
    labels = crawler_labels(replay().events())
    crawlers = sum(lab == "declared_crawler" for lab in labels.values())
    assert len(labels) == 1753 and 100 < crawlers < 400


def test_the_model_never_sees_the_user_agent() -> None:
    vectors = run().vectors
    assert vectors and all(x["automation_ua"] == 0.0 for _, _, x in vectors)
    assert all(x["ua_count"] == 1.0 for _, _, x in vectors)  # neutral: no churn


def test_declared_crawlers_rank_above_the_rest_without_the_user_agent() -> None:
    labels = crawler_labels(replay().events())
    res = run()
    assert len(res.last_score) == len(labels)  # every actor is scored
    auc_last = roc_auc(labels, res.last_score)
    auc_max = roc_auc(labels, res.max_score)
    assert auc_last is not None and auc_max is not None
    assert auc_last >= 0.85, auc_last  # the target; measured 0.888
    assert auc_max >= 0.84, auc_max  # measured 0.875


def test_the_model_beats_the_rules_only_and_constant_controls() -> None:
    """Rules alone act on none of this site's visitors (no profile paths, no volume):
    as a ranking, acted-on or not is no better than a coin; a constant score neither."""
    labels = crawler_labels(replay().events())
    acted = {d.actor for d in run(rules_only=True).decisions if d.action != "allow"}
    rules = {a: 1.0 if a in acted else 0.0 for a in labels}
    constant = dict.fromkeys(labels, 1.0)
    auc_rules, auc_constant = roc_auc(labels, rules), roc_auc(labels, constant)
    auc_model = roc_auc(labels, run().last_score)
    assert auc_rules is not None and auc_constant == 0.5 and auc_model is not None
    assert auc_model >= max(auc_rules, auc_constant) + 0.25
