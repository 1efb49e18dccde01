"""AUC with unscored actors and ties, per label, recall at a fixed false-positive rate."""

import pytest

from stream.harness.ranking import (
    UNSCORED,
    auc,
    ranking,
    recall_at_fpr,
    roc_auc,
    threshold_at_fpr,
)

LABELS = {
    "b1": "bulk_scraper",
    "b2": "bulk_scraper",
    "s1": "low_and_slow",
    "h1": "human",
    "h2": "human",
    "p1": "human_power_user",
    "c1": "allowlisted_crawler",
}


def test_auc_known_answers_and_ties() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5], [0.5]) == 0.5  # a tie counts half
    assert auc([0.5, 0.9], [0.5, 0.1]) == pytest.approx((0.5 + 1 + 1 + 1) / 4)
    assert auc([], [0.1]) is None and auc([0.1], []) is None


def test_unscored_rank_below_every_score_and_tie_among_themselves() -> None:
    # b1 scored 0.0 (the lowest possible score), h1 never scored: b1 outranks h1
    assert roc_auc({"b1": "bulk_scraper", "h1": "human"}, {"b1": 0.0}) == 1.0
    # both unscored: a tie, half
    assert roc_auc({"b1": "bulk_scraper", "h1": "human"}, {}) == 0.5
    # a person scored 0.0 outranks an unscored bot
    assert roc_auc({"b1": "bulk_scraper", "h1": "human"}, {"h1": 0.0}) == 0.0


def test_all_labelled_against_scored_only() -> None:
    scores = {"b1": 0.9, "h1": 0.95, "h2": 0.1}  # b2, s1 and p1 unscored
    # all: pairs (bot, person) = 3 x 3. b1 beats h2 and p1 (unscored); b2, s1 unscored:
    # tie with p1 (half each), below h1 and h2
    assert roc_auc(LABELS, scores) == pytest.approx((2 + 0.5 + 0.5) / 9)
    # among scored: b1 against h1, h2: beats h2 only
    assert roc_auc(LABELS, scores, among_scored=True) == pytest.approx(1 / 2)
    # the allowlisted crawler never counts, whatever its score
    assert roc_auc(LABELS, {**scores, "c1": 1.0}) == roc_auc(LABELS, scores)


def test_ranking_per_label_and_counts() -> None:
    scores = {"b1": 0.9, "b2": 0.8, "s1": 0.05, "h1": 0.2, "h2": 0.1}
    r = ranking(LABELS, scores)
    assert (r.bots, r.people, r.scored_bots, r.scored_people, r.unscored) == (3, 3, 3, 2, 1)
    per = {lr.label: lr for lr in r.per_label}
    assert set(per) == {"bulk_scraper", "low_and_slow"}
    assert per["bulk_scraper"].auc_all == 1.0 and per["bulk_scraper"].scored == 2
    # s1 (0.05) beats only the unscored p1
    assert per["low_and_slow"].auc_all == pytest.approx(1 / 3)
    assert per["low_and_slow"].auc_scored == 0.0
    assert r.as_dict()["unscored"] == 1


def test_latest_scores_rank_apart_from_the_highest() -> None:
    """A person with one high score among many (h1) ranks above a bot by the highest
    score, below it by the latest; without latest scores there is no such figure."""
    highest = {"b1": 0.7, "b2": 0.8, "s1": 0.6, "h1": 0.9, "h2": 0.1, "p1": 0.2}
    latest = {"b1": 0.7, "b2": 0.8, "s1": 0.6, "h1": 0.15, "h2": 0.1}  # p1 unscored
    assert ranking(LABELS, highest).auc_latest is None
    r = ranking(LABELS, highest, latest=latest)
    assert r.auc_all == pytest.approx(6 / 9)  # every bot beats h2 and p1, none beats h1
    assert r.auc_latest == 1.0
    assert {lr.label: lr.auc_latest for lr in r.per_label} == {
        "bulk_scraper": 1.0,
        "low_and_slow": 1.0,
    }
    later = ranking(LABELS, highest, latest={**latest, "h1": 0.75})
    assert later.auc_latest == pytest.approx(7 / 9)  # h1 above s1 and b1, below b2
    assert later.per_label[1].label == "low_and_slow"
    assert later.per_label[1].auc_latest == pytest.approx(2 / 3)


def test_threshold_at_fpr() -> None:
    people = [0.1 * i for i in range(100)]  # 0.0 .. 9.9
    # 1 % of 100 people may be above: the threshold is the second-highest score
    assert threshold_at_fpr(people, 0.01) == pytest.approx(9.8)
    assert threshold_at_fpr(people, 0.0) == pytest.approx(9.9)
    # a budget covering every person: any score counts
    assert threshold_at_fpr([0.3, 0.4], 1.0) == UNSCORED
    # ties at the threshold stay below it: 0 people above 0.5
    assert threshold_at_fpr([0.5, 0.5, 0.1], 0.4) == 0.5


def test_recall_at_fpr_counts_unscored_bots_as_misses() -> None:
    labels = {f"h{i}": "human" for i in range(100)} | {
        "b1": "bulk_scraper",
        "b2": "bulk_scraper",
        "s1": "low_and_slow",
        "s2": "low_and_slow",
    }
    scores = {f"h{i}": i / 100 for i in range(100)}  # 0.00 .. 0.99
    scores |= {"b1": 0.995, "b2": 0.985, "s1": 0.5}  # s2 never scored
    at = recall_at_fpr(labels, scores, 0.01)
    assert at.threshold == pytest.approx(0.98)  # one person (0.99) above it
    assert at.fpr == pytest.approx(0.01)
    assert at.recall == pytest.approx(2 / 4)  # b1, b2 above; s1 below; s2 unscored
    assert at.per_label == {"bulk_scraper": 1.0, "low_and_slow": 0.0}
    assert recall_at_fpr({"h": "human"}, {"h": 0.1}).recall is None


def test_recall_at_fpr_when_no_person_is_scored() -> None:
    labels = {"h1": "human", "h2": "human", "b1": "bulk_scraper", "b2": "distributed"}
    at = recall_at_fpr(labels, {"b1": 0.2})
    assert at.threshold is None and at.fpr == 0.0
    assert at.recall == 0.5  # any score counts: b1 scored, b2 not
