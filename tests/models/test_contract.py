"""Every registered model — built in or from an entry point — must pass these."""

import random
import statistics

import pytest

from models import REGISTRY, Scorer

FEATURES = ("requests_per_hour", "profiles_per_hour", "distinct_ratio", "gap_cv", "error_ratio")


def normal(rng: random.Random) -> dict[str, float]:
    req = rng.uniform(100, 200)
    return {
        "requests_per_hour": req,
        "profiles_per_hour": req * rng.uniform(0.2, 0.5),
        "distinct_ratio": rng.uniform(0.2, 0.5),
        "gap_cv": rng.uniform(0.8, 2.0),
        "error_ratio": rng.uniform(0.0, 0.05),
    }


OUTLIER = {
    "requests_per_hour": 20000.0,
    "profiles_per_hour": 19000.0,
    "distinct_ratio": 0.99,
    "gap_cv": 0.01,
    "error_ratio": 0.4,
}

ENTRIES = list(REGISTRY)


def test_registry_has_the_default_model() -> None:
    assert "hst" in REGISTRY


@pytest.fixture(params=ENTRIES, ids=[e.name for e in ENTRIES])
def trained(request: pytest.FixtureRequest) -> Scorer:
    model = request.param.build()
    rng = random.Random(0)
    for _ in range(600):
        x = normal(rng)
        model.score_one(x)
        model.learn_one(x)
    return model


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_implements_the_interface_and_untrained_scores_zero(entry) -> None:
    model = entry.build()
    assert isinstance(model, Scorer)
    assert model.score_one(normal(random.Random(1))) == 0.0  # knows nothing: never acts


def test_scores_are_calibrated_to_unit_interval(trained: Scorer) -> None:
    rng = random.Random(2)
    scores = [trained.score_one(normal(rng)) for _ in range(300)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert 0.2 <= statistics.median(scores) <= 0.8  # normal traffic sits mid-range


def test_outlier_scores_above_normal_traffic(trained: Scorer) -> None:
    rng = random.Random(3)
    typical = statistics.quantiles([trained.score_one(normal(rng)) for _ in range(300)], n=20)
    assert trained.score_one(OUTLIER) >= 0.98
    assert trained.score_one(OUTLIER) > typical[-1]  # above the 95th percentile of normal


def test_scoring_does_not_learn(trained: Scorer) -> None:
    x = normal(random.Random(4))
    assert trained.score_one(x) == trained.score_one(x)
    for _ in range(50):
        trained.score_one(OUTLIER)
    assert trained.score_one(OUTLIER) >= 0.98


def test_same_params_same_scores() -> None:
    for entry in ENTRIES:
        a, b = entry.build(), entry.build()
        rng_a, rng_b = random.Random(9), random.Random(9)
        for _ in range(300):
            xa, xb = normal(rng_a), normal(rng_b)
            assert a.score_one(xa) == b.score_one(xb)
            a.learn_one(xa)
            b.learn_one(xb)
