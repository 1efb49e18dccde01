"""The pieces of the leave-one-out study of the prior (:mod:`stream.harness.prior_leave_out`;
the study itself takes ~15 minutes and its figures are in docs/evaluation.md)."""

from stream.harness.prior_fit import Vectors
from stream.harness.prior_leave_out import FAMILIES, auc_per_kind


def test_a_kind_left_out_leaves_no_vector_in_the_fit() -> None:
    v = Vectors(
        rows=[{"x": float(i)} for i in range(5)],
        actors=["a", "a", "b", "c", "d"],
        labels=[True, True, True, False, True],
        kinds=["visitor_bot", "visitor_bot", "headless", "human", "bulk_scraper"],
    )
    out = v.without({"visitor_bot", "headless"})
    assert (out.actors, out.kinds, out.labels) == (
        ["c", "d"],
        ["human", "bulk_scraper"],
        [False, True],
    )
    assert out.rows == [{"x": 3.0}, {"x": 4.0}]
    assert v.without(()).actors == v.actors  # nothing left out: all of it
    assert len(v.actors) == 5  # the original is untouched


def test_each_kind_is_ranked_against_the_people_alone() -> None:
    labels = {
        "p1": "human",
        "p2": "human_office",
        "b1": "visitor_bot",
        "b2": "headless",
        "ok": "allowlisted_crawler",
    }
    # b2 ranks below a person; b1 above both; the allowlisted crawler is no bot
    scores = {"p1": 0.2, "p2": 0.6, "b1": 0.9, "b2": 0.4, "ok": 0.99}
    assert auc_per_kind(labels, scores) == {"headless": 0.5, "visitor_bot": 1.0}
    # an unscored bot ranks lowest
    assert auc_per_kind({"p": "human", "b": "headless"}, {"p": 0.1}) == {"headless": 0.0}


def test_families_do_not_overlap() -> None:
    kinds = [k for family in FAMILIES.values() for k in family]
    assert len(kinds) == len(set(kinds))
