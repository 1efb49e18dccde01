"""Every registered model — built in or from an entry point — must pass these."""

import random
import statistics
from typing import Any

import orjson
import pytest

from models import REGISTRY, LabelLearner, Scorer
from models.base import state_of
from stream.core.features import FEATURE_NAMES


def normal(rng: random.Random) -> dict[str, float]:
    """A person's feature vector (every feature the stream computes), with noise."""
    req = rng.uniform(10, 60)
    views = req * rng.uniform(0.3, 0.5)
    return {
        "requests_per_minute": rng.uniform(0, 4),
        "requests_per_hour": req,
        "requests_per_day": req * rng.uniform(2, 6),
        "profiles_per_hour": views * rng.uniform(0.5, 0.8),
        "profiles_per_day": views * rng.uniform(2, 5),
        "profile_share": views / req,
        "distinct_ratio": rng.uniform(0.1, 0.4),
        "asset_share": rng.uniform(0.3, 0.7),
        "assets_per_page": rng.uniform(1, 6),
        "head_share": 0.0,
        "api_share": rng.uniform(0, 0.1),
        "error4_share": rng.uniform(0, 0.03),
        "error5_share": 0.0,
        "night_share": rng.uniform(0, 0.2),
        "noref_share": rng.uniform(0.05, 0.3),
        "follow_share": rng.uniform(0.3, 0.6),
        "back_share": rng.uniform(0.1, 0.3),
        "revisit_share": rng.uniform(0.2, 0.5),
        "offsite_view_share": rng.uniform(0.0, 0.2),
        "contact_share": 0.0,
        "robots": 0.0,
        "dwell_s": rng.uniform(10, 60),
        "page_gap_cv": rng.uniform(0.9, 2.5),
        "session_pages": rng.uniform(4, 30),
        "session_minutes": rng.uniform(3, 40),
        "depth_mean": rng.uniform(1, 2.5),
        "depth_std": rng.uniform(0.3, 1.0),
        "ua_count": 1.0,
        "gap_cv": rng.uniform(0.9, 2.5),
        "mean_gap_s": rng.uniform(15, 120),
        "enumeration_share": rng.uniform(0, 0.05),
        "active_hours": rng.uniform(2, 10),
        "automation_ua": 0.0,
        "account_age_days": rng.uniform(30, 365),
        "ips_per_hour": 1.0,
    }


OUTLIER = {  # a bulk scraper: volume, breadth, a metronome, no referrers, no assets
    **normal(random.Random(99)),
    "requests_per_minute": 400.0,
    "requests_per_hour": 20000.0,
    "requests_per_day": 90000.0,
    "profiles_per_hour": 19000.0,
    "profiles_per_day": 80000.0,
    "profile_share": 0.99,
    "distinct_ratio": 0.99,
    "asset_share": 0.0,
    "assets_per_page": 0.0,
    "noref_share": 1.0,
    "follow_share": 0.0,
    "back_share": 0.0,
    "revisit_share": 0.0,
    "offsite_view_share": 1.0,
    "dwell_s": 0.2,
    "page_gap_cv": 0.05,
    "session_pages": 20000.0,
    "session_minutes": 600.0,
    "gap_cv": 0.05,
    "mean_gap_s": 0.2,
    "enumeration_share": 0.95,
    "active_hours": 24.0,
}

ENTRIES = list(REGISTRY)


def test_registry_has_the_default_model() -> None:
    from models import DEFAULT_MODEL

    assert DEFAULT_MODEL in REGISTRY


def test_the_contract_vectors_cover_every_feature_the_stream_computes() -> None:
    assert set(normal(random.Random(0))) == set(FEATURE_NAMES) == set(OUTLIER)


@pytest.fixture(params=ENTRIES, ids=[e.name for e in ENTRIES])
def trained(request: pytest.FixtureRequest) -> Scorer:
    model = request.param.build()
    rng = random.Random(0)
    for _ in range(600):
        x = normal(rng)
        model.score_one(x)
        model.learn_one(x)
    return model


def score(model: Scorer, x: dict[str, float]) -> float:
    s = model.score_one(x)
    assert s is not None, "a model that learned 600 vectors must be warm"
    return s


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_a_cold_model_says_nothing_or_what_its_prior_knows(entry) -> None:
    model = entry.build()
    assert isinstance(model, Scorer)
    s = model.score_one(normal(random.Random(1)))
    assert s is None or 0.0 <= s <= 1.0  # never a made-up 0.5 or 1.0: None until warm


def test_scores_are_calibrated_to_unit_interval(trained: Scorer) -> None:
    rng = random.Random(2)
    scores = [score(trained, normal(rng)) for _ in range(300)]
    assert all(0.0 <= s <= 1.0 for s in scores)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_on_stationary_input_about_one_percent_scores_above_099(entry) -> None:
    """Three models trained on three samples of one distribution, 2,000 new samples each:
    the share above 0.99 is about 1 % (binomial noise allowed: at most 1.5 % overall)."""
    n, high = 2000, 0
    for run in range(3):
        model = entry.build()
        rng = random.Random(run)
        for _ in range(800):
            x = normal(rng)
            model.score_one(x)
            model.learn_one(x)
        fresh = random.Random(100 + run)
        high += sum(score(model, normal(fresh)) > 0.99 for _ in range(n))
    assert high <= 0.015 * 3 * n, f"{high} of {3 * n} same-distribution samples above 0.99"


def test_outlier_scores_above_normal_traffic(trained: Scorer) -> None:
    rng = random.Random(3)
    typical = statistics.quantiles([score(trained, normal(rng)) for _ in range(300)], n=20)
    assert score(trained, OUTLIER) >= 0.9
    assert score(trained, OUTLIER) > typical[-1]  # above the 95th percentile of normal


def test_scoring_does_not_learn(trained: Scorer) -> None:
    x = normal(random.Random(4))
    assert trained.score_one(x) == trained.score_one(x)
    before = score(trained, OUTLIER)
    for _ in range(50):
        trained.score_one(OUTLIER)
    assert score(trained, OUTLIER) == before


def test_same_params_same_scores() -> None:
    for entry in ENTRIES:
        a, b = entry.build(), entry.build()
        rng_a, rng_b = random.Random(9), random.Random(9)
        for _ in range(300):
            xa, xb = normal(rng_a), normal(rng_b)
            assert a.score_one(xa) == b.score_one(xb)
            a.learn_one(xa)
            b.learn_one(xb)


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if isinstance(e.build(), LabelLearner)], ids=lambda e: e.name
)
def test_labels_move_the_score_of_what_they_label(entry) -> None:
    model = entry.build()
    rng = random.Random(6)
    people = [normal(rng) for _ in range(200)]
    odd = {**normal(random.Random(7)), "page_gap_cv": 0.2, "revisit_share": 0.0}
    before = score(model, odd)
    for _ in range(40):
        model.learn_label(odd, True)
        model.learn_label(people[rng.randrange(200)], False)
    assert score(model, odd) > before


def _learned(entry: Any, n: int = 600) -> Any:
    model = entry.build()
    rng = random.Random(5)
    for i in range(n):
        x = normal(rng)
        model.score_one(x)
        model.learn_one(x)
        if isinstance(model, LabelLearner) and i % 10 == 0:
            model.learn_label(x, i % 20 == 0)
    return model


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_round_trips_through_data_only_state(entry) -> None:
    """Snapshots are data: state → JSON → the entry's from_state gives the same model,
    and both go on learning alike (tests/security/test_01_* for what is refused)."""
    model = _learned(entry)
    again = entry.from_state(orjson.loads(orjson.dumps(state_of(model))))
    assert type(again) is type(model)
    rng = random.Random(8)
    probes = [normal(rng) for _ in range(50)] + [OUTLIER]
    assert [again.score_one(x) for x in probes] == [model.score_one(x) for x in probes]
    for x in probes[:20]:
        model.learn_one(x)
        again.learn_one(x)
    assert [again.score_one(x) for x in probes] == [model.score_one(x) for x in probes]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_numeric_parameter_has_a_declared_range(entry) -> None:
    numeric = {
        k
        for k, v in entry.defaults.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    assert numeric <= set(entry.ranges), f"no range for {sorted(numeric - set(entry.ranges))}"

