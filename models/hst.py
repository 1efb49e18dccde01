"""Novelty: the shared transform → River ``MinMaxScaler`` → squash → ``HalfSpaceTrees``.

Request counts span six orders of magnitude (a human's 3 views an hour, a scraper's
30,000), so features are log-compressed (:mod:`models.transform`) before min-max scaling;
without that one bulk scraper sets the maximum and squashes every other actor to zero.
A half-space forest says nothing until its first window of ``window_size`` vectors has
been learned, so it is warm only after that (:class:`models.calibration.CalibratedScorer`).
"""

from __future__ import annotations

import math

from river import anomaly, compose, preprocessing

from models.base import Features
from models.calibration import CalibratedScorer, QuantileCalibrator
from models.registry import ModelEntry, register
from models.transform import transform


def log_features(x: Features) -> Features:
    """``sign(v) * log1p(|v|)`` for every feature; keeps the dict's keys."""
    return {k: math.copysign(math.log1p(abs(v)), v) for k, v in x.items()}


def squash(x: Features) -> Features:
    """Map min-max scaled values so that the learned range fills ``[0, 0.5]``.

    ``MinMaxScaler`` maps values beyond the learned maximum above 1, and
    ``HalfSpaceTrees`` works on ``[0, 1]``: clipping would put a 100x outlier in
    the same leaf as the busiest normal actor. ``v / (1 + v)`` keeps the learned
    range in the lower half and spreads outliers over the (empty) upper half.
    """
    return {k: (v / (1.0 + v) if v > 0.0 else 0.0) for k, v in x.items()}


def build_hst(
    n_trees: int = 25,
    height: int = 8,
    window_size: int = 250,
    seed: int = 42,
    calibration_window: int = 500,
) -> CalibratedScorer:
    detector = (
        compose.FuncTransformer(transform)
        | preprocessing.MinMaxScaler()
        | compose.FuncTransformer(squash)
        | anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
    )
    return CalibratedScorer(
        detector, QuantileCalibrator(window=calibration_window), warm_after=window_size
    )


HST = register(
    ModelEntry(
        name="hst",
        version="2",
        factory=build_hst,
        defaults={
            "n_trees": 25,
            "height": 8,
            "window_size": 250,
            "seed": 42,
            "calibration_window": 500,
        },
        description="transform → MinMaxScaler → squash → HalfSpaceTrees (River), "
        "warm after its first window, quantile-calibrated against trusted traffic",
    )
)
