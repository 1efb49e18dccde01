"""The default model's builder: a prior given by code replaces the packaged one."""

import dataclasses

from models.ensemble import build_ensemble
from models.supervised import packaged_prior


def test_a_prior_given_replaces_the_packaged_one() -> None:
    packaged = packaged_prior()
    assert packaged is not None
    sure = dataclasses.replace(packaged, intercept=40.0)  # a prior that calls all bots
    model = build_ensemble(prior=sure, novelty_weight=0.0)
    assert model.supervised.prior is sure
    x = {"requests_per_minute": 1.0}
    given, default = model.score_one(x), build_ensemble(novelty_weight=0.0).score_one(x)
    assert given is not None and default is not None
    assert given > 0.99 > default
