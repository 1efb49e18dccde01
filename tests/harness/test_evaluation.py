from pathlib import Path

import orjson
import pytest

from stream.harness.evaluation import (
    evaluate,
    median_over_all,
    percentile,
    precision_recall,
    read_labels,
    roc_auc,
)
from stream.harness.evaluation_report import table, write

LABELS = {
    "account:b1": "bulk_scraper",
    "account:b2": "bulk_scraper",
    "account:b3": "bulk_scraper",
    "account:h1": "human",
    "account:h2": "human",
    "account:p1": "human_power_user",
    "ip:1.2.3.4": "allowlisted_crawler",
}
FIRST = {a: 1000.0 for a in LABELS}


def d(actor: str, action: str, ts: float, shadow: bool = False) -> dict[str, object]:
    return {"actor": actor, "action": action, "ts": ts, "shadow": shadow}


DECISIONS = [
    d("account:b1", "challenge", 1030),
    d("account:b1", "block", 1090),
    d("account:b2", "challenge", 1050),
    d("account:b3", "block", 1200),  # blocked straight away: first action is the block
    d("account:h1", "challenge", 5000),  # a false positive
    d("account:h2", "challenge", 1100, shadow=True),  # shadow: not counted by default
    d("account:zz", "block", 1000),  # not labelled: ignored
]


def test_known_answer() -> None:
    rep = evaluate(LABELS, DECISIONS, FIRST, {"account:b1": 0.97})
    rows = {r.label: r for r in rep.labels}
    bulk = rows["bulk_scraper"]
    assert (bulk.actors, bulk.acted, bulk.challenged, bulk.blocked) == (3, 3, 3, 2)
    assert bulk.recall == 1.0
    assert bulk.challenge_median_s == 50.0  # 30, 50, 200
    assert bulk.challenge_p95_s == pytest.approx(185.0)
    assert bulk.block_median_s == pytest.approx(145.0)  # 90, 200
    human = rows["human"]
    assert (human.actors, human.challenged, human.blocked) == (2, 1, 0)
    assert rows["human_power_user"].acted == 0
    assert rows["allowlisted_crawler"].acted == 0
    assert rep.precision == pytest.approx(3 / 4)
    assert rep.summary["people_challenged"] == 1 and rep.summary["bot_recall"] == 1.0
    by_actor = {a.actor: a for a in rep.actors}
    assert (
        by_actor["account:b1"].max_score == 0.97 and by_actor["account:b1"].final_action == "block"
    )
    assert by_actor["account:b3"].first_action_s == 200.0
    assert by_actor["account:h2"].final_action == "allow"
    # never scored is not a score of 0
    assert by_actor["account:b2"].max_score is None and not by_actor["account:b2"].scored
    assert rows["bulk_scraper"].scored == 1
    s = rep.summary
    assert (s["people_acted"], s["people"]) == (1, 3)
    assert s["people_acted_share"] == pytest.approx(1 / 3)
    assert s["bot_first_action_median_s"] == 50.0
    assert s["unscored"] == 5  # b1 is the only scored bot or person
    assert rep.ranking is not None and rep.ranking.auc_all == pytest.approx(
        6 / 9
    )  # b1 beats 3, b2 and b3 tie 3 each


def test_time_to_first_action_over_all_actors_counts_the_missed_as_never() -> None:
    labels = {**LABELS, "account:b4": "bulk_scraper", "account:s1": "slow_crawler"}
    decisions = [*DECISIONS, d("account:s1", "challenge", 1000 + 3600)]
    rep = evaluate(labels, decisions, {a: 1000.0 for a in labels}, {})
    rows = {r.label: r for r in rep.labels}
    bulk = rows["bulk_scraper"]  # 30, 50, 200 s and b4 never
    assert bulk.challenge_median_s == 50.0  # of the three acted on
    assert bulk.first_action_median_all_s == 125.0  # of all four: (50 + 200) / 2
    assert bulk.within_target == 3
    slow = rows["slow_crawler"]  # one, acted on after an hour
    assert (slow.first_action_median_all_s, slow.within_target) == (3600.0, 0)
    human = rows["human"]  # one challenged after 4,000 s, one never: the middle is never
    assert human.first_action_median_all_s is None and human.within_target == 0
    text = table(rep)
    assert "| bulk_scraper | 4 | 0.750 | 3 | 2 | 3/4 | 2.1m | 50s |" in text
    assert "| human | 2 | 1/2 acted on | 1 | 0 | 0/2 | never |" in text
    assert "met for 1 of 2 bot labels; not met: slow_crawler (60.0m)" in text


def test_median_over_all() -> None:
    assert median_over_all([]) is None
    assert median_over_all([10.0, None, 30.0]) == 30.0
    assert median_over_all([10.0, 20.0, 30.0, None]) == 25.0
    assert median_over_all([10.0, 20.0, None, None]) is None  # the middle two: 20, never
    assert median_over_all([None]) is None


def test_shadow_decisions_can_be_included() -> None:
    rep = evaluate(LABELS, DECISIONS, FIRST, {}, include_shadow=True)
    assert {r.label: r for r in rep.labels}["human"].challenged == 2


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_labels_file(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("# comment\naccount:a human\n\nip:1.1.1.1 bulk_scraper\n")
    assert read_labels(f) == {"account:a": "human", "ip:1.1.1.1": "bulk_scraper"}
    f.write_text("account:a human extra\n")
    with pytest.raises(ValueError, match="expected 'id label'"):
        read_labels(f)


def test_report_files(tmp_path: Path) -> None:
    rep = evaluate(LABELS, DECISIONS, FIRST, {})
    paths = write(rep, tmp_path)
    data = orjson.loads((tmp_path / "report.json").read_bytes())
    assert {row["actor"] for row in data["actors"]} == set(LABELS)
    assert set(data["actors"][0]) >= {
        "actor",
        "label",
        "max_score",
        "final_action",
        "first_action_s",
    }
    assert data["ranking"]["unscored"] == 6 and data["ranking"]["auc_all"] == 0.5
    assert data["actors"][0]["max_score"] is None and data["actors"][0]["scored"] is False
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # self-contained plots
    assert "http://" not in page and "https://" not in page  # nothing fetched: offline
    assert "ROC AUC bots vs people, all 6 labelled actors (6 unscored" in page
    assert "| bulk_scraper | 3 | 1.000 |" in table(rep)
    assert len(paths) == 2


def test_report_with_controls_resolution_and_split(tmp_path: Path) -> None:
    from stream.harness.controls import controls_of_live
    from stream.harness.evaluation_report import full_text
    from stream.harness.labels import resolve

    scores = {"account:b1": 0.97, "account:b2": 0.95, "account:h1": 0.2}
    rep = evaluate(LABELS, DECISIONS, FIRST, scores)
    rep.resolution = resolve({**LABELS, "nobody": "human"}, set(LABELS))
    rep.controls = controls_of_live(LABELS, rep, DECISIONS, FIRST)
    rep.split = {
        "kind": "time",
        "test_share": 0.3,
        "cut_ts": 1.0,
        "shift_s": 0.0,
        "labelled_test_actors": 7,
        "labelled_train_actors": 0,
    }
    text = full_text(rep)
    assert "1 matched no actor with events in the run: nobody" in text
    assert "split time: figures on 7 labelled test actors" in text
    assert "| bulk_scraper | 3 | 2 | 1.000 | 0.000 | +1.000 | - | - |" in text
    assert "rules_only (derived from the live decisions' reasons, a lower bound)" in text
    assert "constant control AUC among scored: 0.500 (by definition)" in text
    assert "ROC AUC among the 3 scored (2 bots, 1 people): 1.000" in text
    write(rep, tmp_path)
    data = orjson.loads((tmp_path / "report.json").read_bytes())
    assert data["controls"]["lift"]["rules_only"]["bot_recall"] == 1.0
    assert data["labels_resolution"]["unmatched_ids"] == ["nobody"]
    assert data["split"]["kind"] == "time"
    assert "lift over rules_only" in (tmp_path / "report.html").read_text()


def test_roc_auc_known_answers() -> None:
    labels = {
        "b1": "bulk_scraper",
        "b2": "headless",
        "h1": "human",
        "h2": "human_power_user",
        "c": "allowlisted_crawler",
    }
    assert roc_auc(labels, {"b1": 0.9, "b2": 0.8, "h1": 0.1, "h2": 0.2, "c": 1.0}) == 1.0
    assert roc_auc(labels, {"b1": 0.1, "b2": 0.2, "h1": 0.9, "h2": 0.8}) == 0.0
    assert roc_auc(labels, {}) == 0.5  # all tied (missing = 0)
    assert roc_auc(labels, {"b1": 0.9, "h1": 0.9}) == pytest.approx(0.5)  # b1=h1, b2=h2=0
    assert roc_auc({"h": "human"}, {"h": 1.0}) is None


def test_precision_recall_of_flagged_actors() -> None:
    labels = {"b1": "bulk_scraper", "b2": "distributed", "h1": "human", "c": "allowlisted_x"}
    assert precision_recall(labels, ["b1", "h1", "c"]) == (0.5, 0.5)
    assert precision_recall(labels, []) == (None, 0.0)
