"""Scoring an actor and teaching the model: when, what, and from whom.

* **When** — an actor is scored once it has ``[score] min_events`` events, then once per
  ``interval_s`` of its event time, and in between each time its events double (10, 20,
  40, … with ``min_events`` 5), so that a short visit is judged again as its evidence
  grows. Every score is published; the policy's volume gates decide whether a score may
  *act*, not whether it is computed. The model learns one vector per actor per interval
  (the interval's score), whatever the batch sizes.
* **Score first, then learn** — the vector is scored before the model learns it.
* **From whom** — the model learns only from trusted traffic: actors not flagged (no
  decision in force, score under the challenge threshold), not known to be bots (an
  outcome said so), without an HTTP-library user agent or id enumeration, with at least
  ``LEARN_MIN_EVENTS`` events (a vector of a handful of events is noisy, and learning is
  the costliest step of a score: learning from 5-9 events as well took the pure pipeline
  from ~44 to ~85 µs per event on the bench mix and changed no AUC), and then only a
  deterministic ``learn_sample_rate`` share of them. Labels (``outcomes``) teach the
  models that learn from labels.
* **Isolation** — a model that raises on one vector does not stop the partition: the
  error is counted, the model goes back to its last good copy (taken every
  ``CHECKPOINT_EVERY`` learns), and the caller dead-letters the triggering event as
  ``processing_error``.
"""

from __future__ import annotations

import copy

import structlog

from models import LabelLearner, Scorer
from stream.core.windows import stable_hash

log = structlog.get_logger(__name__)

CHECKPOINT_EVERY = 500  # learns between two good copies of a model
LEARN_MIN_EVENTS = 10  # an actor teaches the model as normal traffic from this many events


class GuardedModel:
    """A partition's model (live or shadow) with its label, isolated from its own errors."""

    __slots__ = ("_good", "_learns", "errors", "label", "model")

    def __init__(self, model: Scorer, label: str) -> None:
        self.model = model
        self.label = label
        self.errors = 0
        self._good: Scorer | None = None
        self._learns = 0
        self.checkpoint()  # the state it starts from is its first good copy

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        log.warning(
            "model_error",
            model=self.label,
            during=what,
            error=f"{type(exc).__name__}: {exc}",
            action="restored from the last good copy",
        )
        if self._good is not None:
            self.model = copy.deepcopy(self._good)

    def score(self, x: dict[str, float]) -> float | Exception | None:
        """The score, None while the model is not warm, or the error it raised."""
        try:
            s = self.model.score_one(x)
        except Exception as exc:
            self._failed("score", exc)
            return exc
        if s is None:
            return None
        if not 0.0 <= s <= 1.0:  # nan included
            bad = ValueError(f"score {s!r} outside [0, 1]")
            self._failed("score", bad)
            return bad
        return s

    def learn(self, x: dict[str, float]) -> Exception | None:
        try:
            self.model.learn_one(x)
        except Exception as exc:
            self._failed("learn", exc)
            return exc
        self._learns += 1
        if self._learns % CHECKPOINT_EVERY == 0:
            self.checkpoint()
        return None

    def learn_label(self, x: dict[str, float], is_bot: bool) -> bool:
        """Teach a label; False when the model does not learn from labels."""
        model = self.model
        if not isinstance(model, LabelLearner):
            return False
        try:
            model.learn_label(x, is_bot)
        except Exception as exc:
            self._failed("learn_label", exc)
            return False
        return True

    def checkpoint(self) -> None:
        try:
            self._good = copy.deepcopy(self.model)
        except Exception as exc:  # a model that cannot be copied is restored fresh
            log.warning("model_checkpoint_failed", model=self.label, error=str(exc))


class LabelBudget:
    """At most ``per_hour`` labels learned per hour (a token bucket on the detector's
    clock, full at start): a flood of labels teaches no more than that."""

    __slots__ = ("_tokens", "_ts", "per_hour")

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._tokens = float(per_hour)
        self._ts: float | None = None

    def take(self, now: float) -> bool:
        if self._ts is not None and now > self._ts:
            self._tokens = min(
                self.per_hour, self._tokens + (now - self._ts) * self.per_hour / 3600
            )
        self._ts = now if self._ts is None else max(self._ts, now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def score_due(events: int, min_events: int, ts: float, next_score_ts: float) -> int:
    """Whether an actor with ``events`` events is due for a score at ``ts``: ``INTERVAL``
    (its interval is over: score and learn), ``GROWN`` (its events doubled: score only),
    or 0."""
    if events < min_events:
        return 0
    if ts >= next_score_ts:
        return INTERVAL
    m = max(min_events, 1)
    k = events // m
    if events % m == 0 and k & (k - 1) == 0:
        return GROWN
    return 0


INTERVAL, GROWN = 1, 2


def sampled(actor: str, ts: float, interval_s: float, rate: float) -> bool:
    """A deterministic ``rate`` share of (actor, interval) pairs."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return stable_hash(f"{actor}\x00{int(ts // max(interval_s, 1.0))}") < rate * 0xFFFFFFFF
