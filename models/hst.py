"""Novelty: the shared transform → River ``MinMaxScaler`` → squash → ``HalfSpaceTrees``.

Request counts span six orders of magnitude (a human's 3 views an hour, a scraper's
30,000), so features are log-compressed (:mod:`models.transform`) before min-max scaling;
without that one bulk scraper sets the maximum and squashes every other actor to zero.
A half-space forest says nothing until its first window of ``window_size`` vectors has
been learned, so it is warm only after that (:class:`models.calibration.CalibratedScorer`).
"""

from __future__ import annotations

import math
import random

from river import anomaly, compose, preprocessing, stats
from river.tree import padded

from models.base import Features
from models.calibration import CALIBRATED_STATE, CalibratedScorer, QuantileCalibrator
from models.registry import ModelEntry, register
from models.state import Allowlist
from models.transform import transform

#: leaves of the whole forest (n_trees × 2^height): 4× the default (25 × 2^8). A snapshot
#: of the default forest is ~0.25 MB; this keeps the largest under Kafka's 1 MB message.
MAX_LEAVES = 25_600


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
    if n_trees * 2**height > MAX_LEAVES:
        raise ValueError(
            f"n_trees × 2^height is {n_trees * 2**height}, more than {MAX_LEAVES}: the "
            "forest would not fit a snapshot (lower the height or the number of trees)"
        )
    detector = (
        compose.FuncTransformer(transform)
        | preprocessing.MinMaxScaler()
        | compose.FuncTransformer(squash)
        | anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
    )
    return CalibratedScorer(
        detector, QuantileCalibrator(window=calibration_window), warm_after=window_size
    )


#: River's pieces of the pipeline, for this model's snapshots and for models built alike
RIVER_PIPELINE_STATE = Allowlist.of(
    compose.Pipeline, compose.FuncTransformer, preprocessing.MinMaxScaler, stats.Min, stats.Max
)
#: everything a snapshot of :func:`build_hst` holds
HST_STATE = (
    CALIBRATED_STATE
    | RIVER_PIPELINE_STATE
    | Allowlist.of(
        anomaly.HalfSpaceTrees,
        padded.PaddedBranch,
        padded.PaddedLeaf,
        random.Random,
        transform,
        log_features,
        squash,
    )
)

#: ranges of the numeric parameters: a model outside them could take minutes and
#: gigabytes per partition (height 20: 628 MiB on the first learn) or never calibrate;
#: ``build_hst`` also bounds the forest as a whole (:data:`MAX_LEAVES`)
HST_RANGES: dict[str, tuple[float, float]] = {
    "n_trees": (1, 100),
    "height": (1, 10),
    "window_size": (10, 10_000),
    "seed": (0, 2**31 - 1),
    "calibration_window": (50, 20_000),
}

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
        ranges=HST_RANGES,
        state=HST_STATE,
    )
)
