"""Fitting the supervised model's prior (``models/prior.json``) on labelled traffic.

The features of every scored actor-interval are collected by replaying labelled events
through the same pipeline as the stream (:class:`~stream.harness.offline.OfflineRun`, which
keeps the vectors), then a logistic regression with an L2 penalty is fitted by Newton's
method (NumPy). Each kind of actor (persona) weighs the same, each actor within it the
same whatever its number of vectors, and both classes weigh the same. People
(``human*``) are the negative class; every bot and the declared crawlers (automated,
even when welcome) the positive one.

What the prior was fitted on, and how it did on traffic it did not see, goes into the file.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from models import REGISTRY
from models.registry import ModelSpec
from models.supervised import Prior
from models.transform import NAMES, transform
from stream.core.policy import Policy
from stream.core.policy_loader import parse_policy
from stream.harness.evaluation import is_person
from stream.harness.offline import OfflineRun
from stream.harness.ranking import auc

if TYPE_CHECKING:
    from stream.harness.personas import Simulation

# features the prior does not use. It judges how an actor browses, not how much: rates
# and volumes are the rules' business, and they differ by orders of magnitude between a
# blog and a social network (a prior that learnt "bots are fast" misses slow crawlers).
# Night-time depends on where people live, account age on the platform's history.
RATES: tuple[str, ...] = (
    "requests_per_minute",
    "requests_per_hour",
    "requests_per_day",
    "profiles_per_hour",
    "profiles_per_day",
    "mean_gap_s",
)
# Following a link from the page just seen is what a browser does whoever sits at it: in
# the personas it parted people (who go back to a list of results) from profile walkers,
# and the prior learnt it as the strongest sign of a bot — which made people who browse
# from profile to profile ("people also viewed") score 0.92-0.96 in a scenario written
# apart from the personas (docs/evaluation.md). Going back (back_share) stays: people do it.
EXCLUDED: tuple[str, ...] = ("night_share", "account_age_days", "follow_share", *RATES)
PRIOR_FEATURES = tuple(n for n in NAMES if n not in EXCLUDED)


@dataclass
class Vectors:
    """Feature vectors of labelled actors, one per scored interval."""

    rows: list[dict[str, float]] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)  # True: automated
    kinds: list[str] = field(default_factory=list)  # the label itself (persona)

    def extend(self, other: Vectors) -> None:
        self.rows += other.rows
        self.actors += other.actors
        self.labels += other.labels
        self.kinds += other.kinds

    def without(self, kinds: Collection[str]) -> Vectors:
        """These vectors but those of actors labelled one of ``kinds``."""
        keep = [i for i, k in enumerate(self.kinds) if k not in kinds]
        return Vectors(
            [self.rows[i] for i in keep],
            [self.actors[i] for i in keep],
            [self.labels[i] for i in keep],
            [self.kinds[i] for i in keep],
        )


def collect(
    events: Iterable[dict[str, Any]],
    labels: dict[str, str],
    policy: Policy,
    spec: ModelSpec,
    prefix: str = "",
) -> Vectors:
    """The vectors of every labelled actor, as the stream would score them."""
    offline = OfflineRun(policy, spec, export_vectors=True)
    for det in offline.detectors:
        det.export_grown = True  # every vector the stream scores, as its evidence grows
    run = offline.run(events)
    out = Vectors()
    for actor, _ts, x in run.vectors:
        label = labels.get(actor)
        if label is None:
            continue
        out.rows.append(x)
        out.actors.append(prefix + actor)
        out.labels.append(not is_person(label))
        out.kinds.append(label)
    return out


def _matrix(rows: list[dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[transform(r, names)[n] for n in names] for r in rows], dtype=float)


def _weights(vectors: Vectors) -> np.ndarray:
    """Each kind of actor (persona) weighs the same, and within it each actor the same
    whatever its number of vectors — rare kinds of bot matter as much as common ones —
    and both classes weigh the same (0.5 each)."""
    y = np.array(vectors.labels, dtype=float)
    per_actor = Counter(vectors.actors)
    kinds = vectors.kinds or ["all"] * len(vectors.actors)
    actors_of = dict.fromkeys(zip(kinds, vectors.actors, strict=True))
    per_kind = Counter(k for k, _ in actors_of)
    w = np.array(
        [1.0 / (per_actor[a] * per_kind[k]) for k, a in zip(kinds, vectors.actors, strict=True)]
    )
    for cls in (0.0, 1.0):
        mask = y == cls
        if mask.any():
            w[mask] *= 0.5 / w[mask].sum()
    return w


def _newton(z1: np.ndarray, y: np.ndarray, w: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Weighted, penalised logistic regression by Newton's method (last column: 1s)."""
    beta = np.zeros(z1.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(z1 @ beta, -30, 30)))
        grad = z1.T @ (w * (p - y)) + penalty * beta
        hess = (z1 * (w * p * (1 - p))[:, None]).T @ z1 + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def fit(vectors: Vectors, l2: float = 1.0, names: tuple[str, ...] = PRIOR_FEATURES) -> Prior:
    """Weighted, L2-penalised logistic regression on standardised features."""
    x = _matrix(vectors.rows, names)
    y = np.array(vectors.labels, dtype=float)
    w = _weights(vectors)
    mean = (w[:, None] * x).sum(axis=0) / w.sum()
    std = np.sqrt((w[:, None] * (x - mean) ** 2).sum(axis=0) / w.sum())
    std[std < 1e-6] = 1.0
    z = (x - mean) / std
    z1 = np.hstack([z, np.ones((len(z), 1))])
    penalty = np.full(z1.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not penalised
    beta = _newton(z1, y, w, penalty)
    return Prior(
        features=names,
        mean={n: float(m) for n, m in zip(names, mean, strict=True)},
        scale={n: float(s) for n, s in zip(names, std, strict=True)},
        weights={n: round(float(b), 6) for n, b in zip(names, beta[:-1], strict=True)},
        intercept=float(beta[-1]),
        meta={
            "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "l2": l2,
            "vectors": len(vectors.rows),
            "actors": len(set(vectors.actors)),
            "automated_actors": len(
                {a for a, lab in zip(vectors.actors, vectors.labels, strict=True) if lab}
            ),
        },
    )


def calibrate(prior: Prior, vectors: Vectors) -> tuple[float, float]:
    """Platt scaling on traffic the fit did not see: the penalty shrinks the weights, so
    the scores crowd around 0.5; ``sigmoid(a * logit + b)``, folded into the weights and
    the intercept, makes a score a probability again (on class-balanced traffic). The
    order of actors — every AUC — is unchanged, as long as no logit passes the ±30 at
    which scores stop at 0 or 1 (hence Platt's targets, below). Returns ``(a, b)``."""
    logits = np.array([_logit(prior, x) for x in vectors.rows])
    z1 = np.stack([logits, np.ones(len(logits))], axis=1)
    y = np.array(vectors.labels, dtype=float)
    # Platt's own targets (1999): (N+ + 1) / (N+ + 2) and 1 / (N- + 2) rather than 1 and 0,
    # N the actors of each class. With 0 and 1, calibration traffic that the prior tells
    # apart without a miss (a kind of bot it was not taught is missing from it, say) sends
    # ``a`` towards infinity: every later score is then exactly 0 or 1, no order left
    pos = len({a for a, lab in zip(vectors.actors, vectors.labels, strict=True) if lab})
    neg = len(set(vectors.actors)) - pos
    t = np.where(y == 1.0, (pos + 1) / (pos + 2), 1.0 / (neg + 2))
    a, b = (float(v) for v in _newton(z1, t, _weights(vectors), np.zeros(2)))
    prior.weights = {k: round(float(v) * a, 6) for k, v in prior.weights.items()}
    prior.intercept = float(prior.intercept * a + b)
    prior.meta["calibration"] = {"a": round(a, 4), "b": round(b, 4)}
    return a, b


def _logit(prior: Prior, x: dict[str, float]) -> float:
    z = prior.standardise(x)
    return prior.intercept + sum(prior.weights[k] * z[k] for k in prior.features)


def prior_score(prior: Prior, x: dict[str, float]) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, _logit(prior, x)))))


FIT_END = 1_790_000_000.0  # the simulations' fixed end: the same seeds give the same prior


def fit_setting() -> tuple[Policy, ModelSpec]:
    """What a prior's traffic is replayed under: the packaged policy with the simulated
    verified crawler allowlisted, and the model whose pipeline collects the vectors
    (``hst``: every actor is scored, none by the prior being fitted)."""
    from stream.harness.personas import simulated_policy_text  # the harness's personas

    return parse_policy(simulated_policy_text()), REGISTRY.get("hst").spec()


def simulations(seed: int, actors: int, hours: float) -> Iterator[tuple[str, Simulation]]:
    """The persona mix of ``seed`` in platform (``api``) and whole-site (``web``) traffic."""
    from stream.harness.personas import DEFAULT_MIX, Simulation  # the harness's personas

    for web in (False, True):
        yield (
            "web" if web else "api",
            Simulation(actors, hours, FIT_END, dict(DEFAULT_MIX), seed, web=web),
        )


def simulated(
    seeds: Iterable[int], actors: int, hours: float, policy: Policy, spec: ModelSpec
) -> Vectors:
    """Vectors of the persona mix, in platform (api) and whole-site (web) traffic."""
    out = Vectors()
    for seed in seeds:
        for kind, sim in simulations(seed, actors, hours):
            web = kind == "web"  # the actors' prefix as before: f"{seed}:{web}:"
            out.extend(collect(sim.events(), sim.labels(), policy, spec, f"{seed}:{web}:"))
    return out


def held_out_auc(prior: Prior, vectors: Vectors) -> float | None:
    """AUC of each actor's maximum prior score, automated against people."""
    best: dict[str, float] = {}
    label: dict[str, bool] = {}
    for actor, x, lab in zip(vectors.actors, vectors.rows, vectors.labels, strict=True):
        best[actor] = max(best.get(actor, 0.0), prior_score(prior, x))
        label[actor] = lab
    return auc(
        [s for a, s in best.items() if label[a]], [s for a, s in best.items() if not label[a]]
    )
