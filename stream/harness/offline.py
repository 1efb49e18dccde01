"""The whole pipeline in one process, without Kafka: for offline evaluation and tuning.

Events go through the same code as on the stream — partitioned by actor key like
Kafka would, in micro-batches, with the correlator's group signals fed back into the
detectors between batches — so an offline run is a faithful preview of a live one.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from models import REGISTRY, ModelSpec, Scorer
from stream.core import side_inputs
from stream.core.batch import Limits
from stream.core.correlation import GroupCorrelator, subnet_of
from stream.core.internal_records import Activity, GroupSignal
from stream.core.partition_detector import PartitionDetector
from stream.core.policy import Policy
from stream.core.records import Decision
from stream.core.validation import parse_ts
from stream.harness.evaluation import Report, evaluate, precision_recall
from stream.harness.traffic import event_key
from stream.kafka.writer import partition_for


@dataclass
class _Rec:
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class OfflineResult:
    decisions: list[Decision] = field(default_factory=list)
    max_score: dict[str, float] = field(default_factory=dict)
    last_score: dict[str, float] = field(default_factory=dict)  # the latest: most evidence
    first_seen: dict[str, float] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)
    # (actor, event time, features) of every score, with ``export_vectors``
    vectors: list[tuple[str, float, dict[str, float]]] = field(default_factory=list)


class OfflineRun:
    def __init__(
        self,
        policy: Policy,
        spec: ModelSpec,
        partitions: int = 8,
        batch_size: int = 2000,
        now: float | None = None,
        export_vectors: bool = False,
        scorer: Callable[[], Scorer] | None = None,
        withhold: frozenset[str] = frozenset(),
    ) -> None:
        """``scorer`` builds each partition's model in place of ``spec``'s registered one
        (a control of :mod:`stream.harness.controls`); ``spec`` still labels it.
        ``withhold``: features the models see at their neutral value (an evaluation
        without them, e.g. ``automation_ua`` and ``ua_count`` when user agents are the
        labels; :func:`stream.core.features.withhold`)."""
        self.policy = policy
        build = scorer or (lambda: REGISTRY.build(spec))
        self.partitions = partitions
        self.batch_size = batch_size
        # the wall clock of the run: "now", or the newest event time seen when that is
        # later (a simulation may end in the future), so that no event looks future-dated
        self._now = now if now is not None else time.time()
        self.detectors = [
            PartitionDetector(
                "requests",
                p,
                policy,
                build(),
                spec.label(),
                Limits(),
                clock=lambda: self._now,
            )
            for p in range(partitions)
        ]
        for det in self.detectors:
            det.export_vectors = export_vectors
            det.withheld = withhold
        self.correlators = [GroupCorrelator(policy) for _ in range(partitions)]
        self.offsets = [0] * partitions
        self.result = OfflineResult()

    def run(self, events: Iterable[dict[str, object]]) -> OfflineResult:
        batch: list[dict[str, object]] = []
        for doc in events:
            batch.append(doc)
            if len(batch) >= self.batch_size:
                self._batch(batch)
                batch = []
        if batch:
            self._batch(batch)
        return self.result

    def _batch(self, docs: list[dict[str, object]]) -> None:
        res = self.result
        by_part: dict[int, list[_Rec]] = defaultdict(list)
        for doc in docs:
            key = event_key(doc)
            p = partition_for(key, self.partitions) if key else 0
            by_part[p].append(_Rec(self.offsets[p], key, orjson.dumps(doc)))
            self.offsets[p] += 1
            actor = key.decode() if key else None
            ts = parse_ts(doc.get("ts"))  # epoch seconds or ISO-8601, as the worker reads it
            if ts is not None and ts > self._now:
                self._now = ts
            if actor and ts is not None and actor not in res.first_seen:
                res.first_seen[actor] = ts
        activities: dict[int, list[Activity]] = defaultdict(list)
        for p, recs in by_part.items():
            out = self.detectors[p].process(recs)
            res.vectors.extend(out.vectors)
            res.decisions.extend(out.decisions)
            res.stats.update(out.stats)
            for sc in out.scores:
                if sc.slot != "live":
                    continue
                res.last_score[sc.actor] = sc.score
                if sc.score > res.max_score.get(sc.actor, -1.0):
                    res.max_score[sc.actor] = sc.score
            for act in out.activities:
                activities[partition_for(subnet_of(act.ip).encode(), self.partitions)].append(act)
        signals: dict[int, list[GroupSignal]] = defaultdict(list)
        for p, acts in activities.items():
            sigs, _ = self.correlators[p].process(acts)
            for sig in sigs:
                signals[partition_for(sig.actor.encode(), self.partitions)].append(sig)
        for p, sigs in signals.items():
            out = side_inputs.apply_group_signals(self.detectors[p], sigs)
            res.decisions.extend(out.decisions)
            res.stats.update(out.stats)


def read_events_file(path: Path) -> list[dict[str, Any]]:
    """Request events from a JSON-lines file, in time order; ValueError names file and line."""
    events: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line.strip())
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc})") from None
            if not isinstance(doc, dict):
                raise ValueError(f"{path}:{n}: not a JSON object")
            events.append(doc)
    sort_by_event_time(events)
    return events


def sort_by_event_time(events: list[dict[str, Any]]) -> None:
    """In place, by ``ts`` as the worker reads it (epoch seconds or ISO-8601); an event
    without a valid time first (the worker dead-letters it), the order kept at ties."""
    events.sort(key=lambda e: parse_ts(e.get("ts")) or 0.0)


@dataclass
class ModelEvaluation:
    """What ``scrapeguard models evaluate`` reports (the figures are on ``report``)."""

    spec: ModelSpec
    events: int
    labelled: int  # labelled actors the figures are computed on (the test actors of a split)
    scored: int  # of them, scored by the model at least once
    roc_auc: float | None  # over all of them, an unscored actor ranking lowest
    score_only: tuple[float | None, float | None]  # precision, recall of the score alone
    whole_policy: tuple[float | None, float | None]  # precision, recall of rules + score
    report: Report

    @property
    def roc_auc_scored(self) -> float | None:
        """Among the scored actors only."""
        return self.report.ranking.auc_scored if self.report.ranking else None


def evaluate_model(
    policy: Policy,
    spec: ModelSpec,
    events: list[dict[str, Any]],
    labels: dict[str, str],
    *,
    split: str = "none",
    test_share: float = 0.3,
    fpr: float = 0.01,
    controls: bool = True,
    constant: float = 1.0,
    withhold: frozenset[str] = frozenset(),
) -> ModelEvaluation:
    """Replay ``events`` through the pipeline with model ``spec``, offline, and evaluate.

    ``labels`` may use bare ids (see :mod:`stream.harness.labels`); they are matched to
    the actors of the run. ``split`` (``time`` or ``actor``, :mod:`stream.harness.splits`)
    orders the replay and restricts every figure to the test actors. With ``controls``
    the same events are also replayed rules-only and with a constant score
    (:mod:`stream.harness.controls`), for the model's lift over them. ``withhold``:
    features every arm's model sees at their neutral value.
    """
    from stream.harness.controls import controls_of_runs, run_offline
    from stream.harness.labels import resolve
    from stream.harness.splits import split as make_split

    sp = make_split(events, split, test_share)
    now = time.time()  # one wall clock for every arm: the same events are accepted
    run = OfflineRun(policy, spec, now=now, withhold=withhold).run(sp.events)
    resolution = resolve(labels, run.first_seen.keys())
    test_labels = sp.labels(resolution.labels)
    rep = evaluate(
        test_labels,
        [d.as_dict() for d in run.decisions],
        run.first_seen,
        run.max_score,
        fpr=fpr,
        last_score=run.last_score,
    )
    rep.resolution = resolution
    rep.split = sp.as_dict(resolution.labels) if sp.kind != "none" else None
    rep.summary["model"] = spec.as_dict()
    if controls:
        arms = run_offline(
            policy, sp.events, spec, now=now, constant=constant, withhold=withhold
        )
        rep.controls = controls_of_runs(test_labels, ("offline run", rep), arms, run.first_seen)
    scores = {a: s for a, s in run.max_score.items() if a in test_labels}
    flagged_by_score = [a for a, sc in scores.items() if sc > policy.score_challenge]
    flagged_by_policy = {d.actor for d in run.decisions if d.action in ("challenge", "block")}
    return ModelEvaluation(
        spec,
        len(events),
        len(test_labels),
        len(scores),
        rep.summary["roc_auc"],
        precision_recall(test_labels, flagged_by_score),
        precision_recall(test_labels, flagged_by_policy),
        rep,
    )
