"""An online supervised model: River's ``LogisticRegression``, started from a prior.

It answers "how likely is this actor automated" from labels — challenge outcomes,
analysts' verdicts, appeals — learned online (``learn_label``). So that it carries weight
from the first event, before any label arrived, it starts from **prior weights** fitted
offline on labelled traffic (``models/prior.json``: what it was fitted on, when, and how
well it did on data it did not see are recorded in the file; refit with
``scrapeguard models fit-prior``). Inputs are the shared transform
(:mod:`models.transform`) standardised with the prior's own means and scales, so that
the prior's weights apply as they were fitted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from river import linear_model, optim
from river.utils import VectorDict

from models.base import Features
from models.state import Allowlist
from models.transform import NAMES, transform

PRIOR_FILE = "prior.json"


@dataclass
class Prior:
    features: tuple[str, ...]
    mean: dict[str, float]
    scale: dict[str, float]
    weights: dict[str, float]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    def standardise(self, x: Features) -> Features:
        t = transform(x, self.features)
        return {k: (t[k] - self.mean[k]) / self.scale[k] for k in self.features}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Prior:
        names = tuple(str(n) for n in d["features"])
        unknown = set(names) - set(NAMES)
        if unknown:
            raise ValueError(f"prior uses features the transform does not know: {unknown}")
        return cls(
            names,
            {k: float(d["mean"][k]) for k in names},
            {k: max(float(d["scale"][k]), 1e-6) for k in names},
            {k: float(d["weights"].get(k, 0.0)) for k in names},
            float(d["intercept"]),
            dict(d.get("meta", {})),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": self.mean,
            "scale": self.scale,
            "weights": self.weights,
            "intercept": self.intercept,
            "meta": self.meta,
        }


def packaged_prior() -> Prior | None:
    """The prior shipped with the package (None when there is none)."""
    try:
        text = resources.files("models").joinpath(PRIOR_FILE).read_text()
    except FileNotFoundError:
        return None
    return Prior.from_dict(json.loads(text))


class SupervisedScorer:
    """Logistic regression over standardised features, learning from labels online."""

    def __init__(
        self,
        prior: Prior | None,
        learning_rate: float = 0.02,
        l2: float = 0.001,
        min_labels: int = 20,
    ) -> None:
        if prior is None:
            raise ValueError("a supervised scorer needs a prior (models/prior.json)")
        self.prior = prior
        self.model = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate), l2=l2)
        for k, w in prior.weights.items():
            self.model._weights[k] = w  # River has no public setter for initial weights
        self.model.intercept = prior.intercept
        self.min_labels = min_labels
        self.labels = {True: 0, False: 0}

    def score_one(self, x: Features) -> float | None:
        p = self.model.predict_proba_one(self.prior.standardise(x)).get(True, 0.0)
        return min(1.0, max(0.0, float(p))) if math.isfinite(p) else None

    def learn_one(self, x: Features) -> None:
        """Unlabelled traffic teaches a supervised model nothing."""

    def learn_label(self, x: Features, is_bot: bool) -> None:
        self.model.learn_one(self.prior.standardise(x), is_bot)
        self.labels[is_bot] += 1


#: the classes a snapshot of a :class:`SupervisedScorer` holds
SUPERVISED_STATE = Allowlist.of(
    SupervisedScorer,
    Prior,
    linear_model.LogisticRegression,
    optim.SGD,
    optim.schedulers.Constant,
    optim.losses.Log,
    optim.initializers.Zeros,
    VectorDict,
)
