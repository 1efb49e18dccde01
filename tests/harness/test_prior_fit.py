"""Fitting the prior (:mod:`stream.harness.prior_fit`): the calibration keeps the order."""

import random

from stream.harness.prior_fit import Vectors, _logit, calibrate, fit


def separable(n: int, seed: int) -> Vectors:
    """People who go back to pages they saw, bots who never do: told apart without a miss."""
    rng = random.Random(seed)
    v = Vectors()
    for i in range(n):
        bot = i % 2 == 0
        for _ in range(3):
            v.rows.append(
                {
                    "back_share": 0.0 if bot else rng.uniform(0.2, 0.6),
                    "page_gap_cv": rng.uniform(0.2, 2.0),
                }
            )
            v.actors.append(f"{seed}:{i}")
            v.labels.append(bot)
            v.kinds.append("visitor_bot" if bot else "human")
    return v


def test_calibration_on_traffic_told_apart_without_a_miss_stays_finite() -> None:
    # with targets of 0 and 1 the scale grew without bound (a ~ 50 after Newton's 50
    # steps): every score of other traffic was then exactly 0 or 1, and all tied
    prior = fit(separable(200, 1), l2=0.1, names=("back_share", "page_gap_cv"))
    a, _ = calibrate(prior, separable(200, 2))
    assert 0 < a < 20
    logits = [_logit(prior, x) for x in separable(50, 3).rows]
    assert max(abs(v) for v in logits) < 30  # inside the range where scores still differ
    # the order is kept: every bot above every person
    bots = [v for v, x in zip(logits, separable(50, 3).rows, strict=True) if x["back_share"] == 0]
    people = [v for v, x in zip(logits, separable(50, 3).rows, strict=True) if x["back_share"] > 0]
    assert min(bots) > max(people)
