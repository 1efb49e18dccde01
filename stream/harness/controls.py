"""Controls for the model: what the same traffic gives without it, and with a constant.

The model's worth is its *lift*: what it catches (and whom it spares) beyond two controls
run on the same events through the same pipeline:

* **rules-only** — the policy with the score unable to act: the challenge threshold and
  the group members' minimum score above 1 (:func:`rules_only_policy`). The model still
  scores; no decision rests on a score.
* **constant** — a scorer that gives every actor it scores the same score
  (:class:`ConstantScorer`, 1.0 by default: "everyone the gates let through is
  suspicious"). It has no ranking at all, so its AUC among scored actors is 0.5 by
  construction, and whatever it catches the volume gates and automation signals of the
  policy catch, not a model. A model worth its place beats it.

Offline both are real runs (:func:`run_offline`). A live run on Kafka happens once, so
:func:`rules_only_from_reasons` *derives* rules-only from the decisions' reasons: an
actor counts as acted on by the rules from the first challenge or block that gives a
reason of the rules' own (a limit, or the escalation of a challenge the rules made). That
is a lower bound on what a rules-only run would catch — once the model has an actor
challenged, a rule that would have challenged it later publishes no decision of its own —
so the lift over it is an upper bound, and reported as derived. The constant control
cannot be derived from a live run; its AUC is 0.5 by definition and is printed as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models import ModelSpec, Scorer
from stream.core.policy import Policy
from stream.harness.evaluation import Report, evaluate, percentile
from stream.harness.labels import is_bot, is_person

MODEL, RULES_ONLY, CONSTANT = "model", "rules_only", "constant"
ABOVE_ANY_SCORE = 2.0  # scores are in [0, 1]: a threshold no score passes


class ConstantScorer:
    """Every vector gets the same score; learns nothing. A control, not a model: it is
    not registered, and only the harness wires it in place of one."""

    def __init__(self, value: float = 1.0) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError("a constant score is in [0, 1]")
        self.value = value

    def score_one(self, x: dict[str, float]) -> float | None:
        return self.value

    def learn_one(self, x: dict[str, float]) -> None:
        return None


def constant_spec(value: float = 1.0) -> ModelSpec:
    """The label the constant control's decisions and scores carry."""
    return ModelSpec("constant-control", "1", {"score": value})


def rules_only_policy(policy: Policy) -> Policy:
    """``policy`` with every way for a score to act closed (threshold above 1)."""
    return dataclasses.replace(
        policy,
        score_challenge=ABOVE_ANY_SCORE,
        groups=dataclasses.replace(policy.groups, member_min_score=ABOVE_ANY_SCORE),
    )


# -- live: rules-only from the reasons ------------------------------------------------
def reason_kind(reason: str) -> str:
    """model | group_score | escalation | renewal | audit | manual | expiry | rule."""
    if reason.startswith("anomaly_score"):
        return "model"
    if " with anomaly_score" in reason:
        return "group_score"  # a group acts on a member only with its own score
    if reason.startswith("profile_views_after_challenge"):
        return "escalation"
    if reason == "renewal":
        return "renewal"
    if reason == "random_audit":
        return "audit"
    if reason.startswith("manual"):
        return "manual"
    if reason.endswith("_expired"):
        return "expiry"
    return "rule"


def rules_only_from_reasons(decisions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The challenges and blocks the rules made on their own (see the module docstring).

    An escalation (``profile_views_after_challenge``) counts when a decision the rules
    made is still in force; shadow decisions never count."""
    ordered = sorted(
        (d for d in decisions if not d.get("shadow") and d["action"] in ("challenge", "block")),
        key=lambda d: float(d["ts"]),
    )
    in_force: dict[str, float] = {}  # actor -> expiry of its last rules' decision
    out: list[dict[str, Any]] = []
    for d in ordered:
        kinds = {reason_kind(r) for r in d.get("reasons") or ()}
        actor, ts = d["actor"], float(d["ts"])
        ours = "rule" in kinds or ("escalation" in kinds and in_force.get(actor, 0.0) > ts)
        if ours:
            out.append(dict(d))
            expires = d.get("expires_at")
            in_force[actor] = float(expires) if expires is not None else float("inf")
    return out


# -- offline: real runs ---------------------------------------------------------------
def run_offline(
    policy: Policy,
    events: list[dict[str, Any]],
    spec: ModelSpec,
    *,
    now: float | None = None,
    constant: float = 1.0,
    arms: Iterable[str] = (RULES_ONLY, CONSTANT),
    withhold: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The control runs (``OfflineResult`` per arm) on ``events`` (replayed in order);
    ``withhold``: features the models see at their neutral value."""
    from stream.harness.offline import OfflineRun

    out: dict[str, Any] = {}
    for arm in arms:
        if arm == RULES_ONLY:
            out[arm] = OfflineRun(
                rules_only_policy(policy), spec, now=now, withhold=withhold
            ).run(events)
        elif arm == CONSTANT:
            factory: Callable[[], Scorer] = lambda: ConstantScorer(constant)  # noqa: E731
            out[arm] = OfflineRun(policy, constant_spec(constant), now=now, scorer=factory).run(
                events
            )
        else:
            raise ValueError(f"unknown control arm {arm!r}")
    return out


# -- comparing the arms -----------------------------------------------------------------
@dataclass
class Arm:
    """What one arm (the model, or a control) did on the labelled actors."""

    name: str
    how: str  # e.g. "live run", "offline run", "derived from the live decisions' reasons"
    measured: bool  # False: not run (only the AUC is known, by definition)
    recall: dict[str, float] = field(default_factory=dict)  # label -> share acted on
    first_action_median_s: dict[str, float | None] = field(default_factory=dict)
    precision: float | None = None
    bot_recall: float | None = None
    people: int = 0
    people_acted: int | None = None
    bot_first_action_median_s: float | None = None
    auc_all: float | None = None
    auc_scored: float | None = None
    auc_note: str = ""
    # bot -> time to its first action (the bots acted on); for paired time differences
    first_action_s: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def people_acted_share(self) -> float | None:
        if self.people_acted is None or not self.people:
            return None
        return self.people_acted / self.people

    @classmethod
    def of(cls, name: str, how: str, report: Report, with_auc: bool = True) -> Arm:
        s = report.summary
        rank = report.ranking
        return cls(
            name,
            how,
            True,
            {r.label: r.recall for r in report.labels},
            {r.label: r.challenge_median_s for r in report.labels},
            report.precision,
            s.get("bot_recall"),
            s.get("people", 0),
            s.get("people_acted"),
            s.get("bot_first_action_median_s"),
            rank.auc_all if with_auc and rank else None,
            rank.auc_scored if with_auc and rank else None,
            first_action_s={
                a.actor: t
                for a in report.actors
                if is_bot(a.label) and (t := a.first_action_s) is not None
            },
        )

    def as_dict(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        del doc["first_action_s"]  # per actor: in the report's actor rows
        return {**doc, "people_acted_share": self.people_acted_share}


def paired_time_diff(model: Arm, other: Arm) -> tuple[float | None, float | None, int]:
    """Median and mean of (model − control) time to first action over the bots both
    acted on, and how many those are (medians over different sets of bots would compare
    apples with pears: a model that also catches the slow ones looks slower). The median
    shows the typical bot (often 0: the same rule acts first in both), the mean the bots
    the model reaches much sooner."""
    both = sorted(set(model.first_action_s) & set(other.first_action_s))
    diffs = [model.first_action_s[a] - other.first_action_s[a] for a in both]
    mean = sum(diffs) / len(diffs) if diffs else None
    return percentile(diffs, 50), mean, len(both)


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


@dataclass
class Controls:
    """The model's arm and its controls; the lift is model minus control."""

    arms: list[Arm]

    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)

    def lift(self, control: str) -> dict[str, Any] | None:
        """Model minus ``control``: recall per label, people acted on, precision, AUC, the
        difference of the per-label medians of time to first action, and the median paired
        difference over the bots both acted on (negative: the model acts sooner)."""
        model, other = self.arm(MODEL), self.arm(control)
        if model is None or other is None:
            return None
        if not other.measured:
            return {
                "auc_all": _diff(model.auc_all, other.auc_all),
                "auc_scored": _diff(model.auc_scored, other.auc_scored),
            }
        paired = paired_time_diff(model, other)
        return {
            "recall": {lab: model.recall[lab] - other.recall.get(lab, 0.0) for lab in model.recall},
            "first_action_median_s": {
                lab: _diff(t, other.first_action_median_s.get(lab))
                for lab, t in model.first_action_median_s.items()
            },
            "bot_recall": _diff(model.bot_recall, other.bot_recall),
            "people_acted": (
                None
                if model.people_acted is None or other.people_acted is None
                else model.people_acted - other.people_acted
            ),
            "precision": _diff(model.precision, other.precision),
            "first_action_paired_median_s": paired[0],
            "first_action_paired_mean_s": paired[1],
            "first_action_pairs": paired[2],
            "auc_all": _diff(model.auc_all, other.auc_all),
            "auc_scored": _diff(model.auc_scored, other.auc_scored),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "arms": [a.as_dict() for a in self.arms],
            "lift": {a.name: self.lift(a.name) for a in self.arms if a.name != MODEL},
        }


def controls_of_runs(
    labels: Mapping[str, str],
    model: tuple[str, Report],
    offline: Mapping[str, Any],
    first_seen: Mapping[str, float],
) -> Controls:
    """The model's report (with how it was run) beside offline control runs."""
    arms = [Arm.of(MODEL, model[0], model[1])]
    for name, run in offline.items():
        rep = evaluate(labels, [d.as_dict() for d in run.decisions], first_seen, run.max_score)
        # rules-only still scores, but no score acts: its ranking is the model's, not its own
        arms.append(Arm.of(name, "offline run", rep, with_auc=name != RULES_ONLY))
    return Controls(arms)


def controls_of_live(
    labels: Mapping[str, str],
    model: Report,
    decisions: list[dict[str, Any]],
    first_seen: Mapping[str, float],
) -> Controls:
    """A live run: rules-only derived from the reasons; the constant control's AUC only."""
    derived = evaluate(labels, rules_only_from_reasons(decisions), first_seen, {})
    constant = Arm(
        CONSTANT,
        "not run (a live run happens once); AUC 0.5 by definition",
        False,
        people=model.summary.get("people", 0),
        auc_all=None,
        auc_scored=0.5 if _both_classes(labels) else None,
        auc_note="by definition",
    )
    return Controls(
        [
            Arm.of(MODEL, "live run", model),
            Arm.of(
                RULES_ONLY,
                "derived from the live decisions' reasons, a lower bound",
                derived,
                with_auc=False,
            ),
            constant,
        ]
    )


def _both_classes(labels: Mapping[str, str]) -> bool:
    values = labels.values()
    return any(is_bot(v) for v in values) and any(is_person(v) for v in values)
