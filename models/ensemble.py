"""The default model: a supervised score and a novelty score, combined.

* the **supervised** part (:mod:`models.supervised`) says how much an actor looks like
  the automated collection it was taught (a prior fitted offline, then every label that
  arrives: challenge outcomes, verdicts, appeals);
* the **novelty** part (a quantile-calibrated half-space forest, :mod:`models.hst`) says
  how unusual the actor is among the traffic the stream trusts, so it also reacts to
  kinds of automation nobody labelled yet.

The score is their weighted mean (``novelty_weight``) when both are warm, else the one
that is; ``None`` while neither is.
"""

from __future__ import annotations

from models.base import Features
from models.calibration import CalibratedScorer
from models.hst import HST_RANGES, HST_STATE, build_hst
from models.registry import ModelEntry, register
from models.state import Allowlist
from models.supervised import SUPERVISED_STATE, Prior, SupervisedScorer, packaged_prior


class EnsembleScorer:
    def __init__(
        self, supervised: SupervisedScorer, novelty: CalibratedScorer, novelty_weight: float
    ) -> None:
        self.supervised = supervised
        self.novelty = novelty
        self.novelty_weight = novelty_weight

    def score_one(self, x: Features) -> float | None:
        s = self.supervised.score_one(x)
        n = self.novelty.score_one(x) if self.novelty_weight > 0 else None
        if s is None:
            return n
        if n is None:
            return s
        w = self.novelty_weight
        return (1.0 - w) * s + w * n

    def learn_one(self, x: Features) -> None:
        self.novelty.learn_one(x)

    def learn_label(self, x: Features, is_bot: bool) -> None:
        self.supervised.learn_label(x, is_bot)


def build_ensemble(
    novelty_weight: float = 0.2,
    learning_rate: float = 0.02,
    n_trees: int = 25,
    height: int = 8,
    window_size: int = 250,
    seed: int = 42,
    prior: Prior | None = None,
) -> EnsembleScorer:
    """The registered parameters, and ``prior`` (not one of them: only code passes it, as
    an evaluation of a prior fitted apart does): the supervised part's start in place of
    the packaged ``models/prior.json``."""
    if not 0.0 <= novelty_weight <= 1.0:
        raise ValueError("novelty_weight must be within 0..1")
    novelty = build_hst(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
    supervised = SupervisedScorer(prior or packaged_prior(), learning_rate=learning_rate)
    return EnsembleScorer(supervised, novelty, novelty_weight)


def build_supervised(learning_rate: float = 0.02) -> SupervisedScorer:
    return SupervisedScorer(packaged_prior(), learning_rate=learning_rate)


ENSEMBLE = register(
    ModelEntry(
        name="ensemble",
        version="1",
        factory=build_ensemble,
        defaults={
            "novelty_weight": 0.2,
            "learning_rate": 0.02,
            "n_trees": 25,
            "height": 8,
            "window_size": 250,
            "seed": 42,
        },
        description="supervised logistic (prior + labels, River) and calibrated "
        "half-space-tree novelty on trusted traffic, combined",
        ranges={
            "novelty_weight": (0.0, 1.0),
            "learning_rate": (1e-6, 1.0),
            **{k: v for k, v in HST_RANGES.items() if k != "calibration_window"},
        },
        state=HST_STATE | SUPERVISED_STATE | Allowlist.of(EnsembleScorer),
    )
)

SUPERVISED = register(
    ModelEntry(
        name="supervised",
        version="1",
        factory=build_supervised,
        defaults={"learning_rate": 0.02},
        description="River LogisticRegression from the packaged prior, learning from labels",
        ranges={"learning_rate": (1e-6, 1.0)},
        state=SUPERVISED_STATE,
    )
)
