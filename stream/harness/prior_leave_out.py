"""How the default model ranks a kind of bot its prior was never taught.

The supervised part of the default ``ensemble`` starts from a prior fitted on the
simulator's personas (:mod:`stream.harness.prior_fit`), so a figure on a persona measures
a kind the prior was taught. Here each bot persona — and each family of like personas —
is left out of the prior's fit and calibration; a held-out seed of the whole mix is then
scored offline by the default ensemble with that prior (:class:`OfflineRun`), and the
ROC AUC of the kind left out against the people is set beside:

* the AUC with the prior fitted on every persona (the same recipe: ``models fit-prior``'s
  seeds and sizes);
* the AUC of the novelty part alone (``hst``: no prior at all).

``python -m stream.harness.prior_leave_out [--test-seed 7] [--actors 400] [--hours 8]``
prints the table (~15 minutes on 2 cores). docs/evaluation.md has the figures and what
they say.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Mapping
from typing import Any

from models import REGISTRY
from models.base import Scorer
from models.ensemble import build_ensemble
from models.supervised import Prior
from stream.harness.offline import OfflineRun
from stream.harness.prior_fit import calibrate, fit, fit_setting, simulated, simulations
from stream.harness.ranking import ranking

# personas alike in what the prior could learn from one for another
FAMILIES: dict[str, frozenset[str]] = {
    "browser automation": frozenset(
        {"browser_bot", "headless", "visitor_bot", "visitor_bot_paced"}
    ),
    "profile harvesters": frozenset(
        {"bulk_scraper", "low_and_slow", "new_aggressive", "account_farm", "distributed"}
    ),
    "crawlers": frozenset({"slow_crawler", "allowlisted_crawler"}),
}


def auc_per_kind(labels: Mapping[str, str], scores: Mapping[str, float]) -> dict[str, float]:
    """ROC AUC of each bot label against the people (an unscored actor ranks lowest): the
    per-label figure of :func:`~stream.harness.ranking.ranking`."""
    return {r.label: r.auc_all for r in ranking(labels, scores).per_label if r.auc_all is not None}


class Study:
    """The fit, calibration and test traffic of one study, simulated once."""

    def __init__(
        self,
        fit_seeds: tuple[int, ...] = (1, 2),
        calibration_seed: int = 3,
        test_seed: int = 7,
        actors: int = 400,
        hours: float = 8.0,
        l2: float = 0.1,
    ) -> None:
        if test_seed in (*fit_seeds, calibration_seed):
            raise ValueError("the test seed must be none of the fit and calibration seeds")
        self.policy, spec = fit_setting()  # as models fit-prior replays
        self.l2 = l2
        self.fit_vectors = simulated(fit_seeds, actors, hours, self.policy, spec)
        self.calibration_vectors = simulated([calibration_seed], actors, hours, self.policy, spec)
        self.test: list[tuple[str, list[dict[str, Any]], dict[str, str]]] = [
            (kind, sim.events(), sim.labels())
            for kind, sim in simulations(test_seed, actors, hours)
        ]

    def prior_without(self, kinds: Collection[str] = ()) -> Prior:
        """The prior fitted and calibrated on every persona but ``kinds``."""
        prior = fit(self.fit_vectors.without(kinds), l2=self.l2)
        calibrate(prior, self.calibration_vectors.without(kinds))
        return prior

    def aucs(self, scorer: Callable[[], Scorer], name: str = "ensemble") -> dict[str, float]:
        """Each bot label's AUC on the test traffic, scored by ``scorer``'s models."""
        labels: dict[str, str] = {}
        scores: dict[str, float] = {}
        spec = REGISTRY.get(name).spec()
        for kind, events, labelled in self.test:
            run = OfflineRun(self.policy, spec, now=events[-1]["ts"], scorer=scorer).run(events)
            scores.update({f"{kind}:{a}": s for a, s in run.max_score.items()})
            labels.update({f"{kind}:{a}": lab for a, lab in labelled.items()})
        return auc_per_kind(labels, scores)

    def left_out(self, kinds: Collection[str]) -> dict[str, float]:
        """The AUC of each of ``kinds`` with a prior that never saw any of them."""
        prior = self.prior_without(kinds)
        aucs = self.aucs(lambda: build_ensemble(prior=prior))
        return {k: v for k, v in aucs.items() if k in kinds}


def table(study: Study, say: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Every bot persona's AUC: taught, left out alone, its family left out, novelty alone."""
    prior = study.prior_without()
    taught = study.aucs(lambda: build_ensemble(prior=prior))
    novelty = study.aucs(lambda: REGISTRY.build(REGISTRY.get("hst").spec()), "hst")
    family_of = {k: name for name, kinds in FAMILIES.items() for k in kinds}
    by_family: dict[str, float] = {}
    for name, kinds in FAMILIES.items():
        say(f"fitting without the {name} ...")
        by_family.update(study.left_out(kinds))
    rows = []
    for kind in sorted(taught):
        say(f"fitting without {kind} ...")
        rows.append(
            {
                "persona": kind,
                "family": family_of.get(kind, "-"),
                "taught": taught[kind],
                "left_out": study.left_out({kind}).get(kind),
                "family_left_out": by_family.get(kind),
                "novelty_alone": novelty.get(kind),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--test-seed", type=int, default=7)
    ap.add_argument("--actors", type=int, default=400)
    ap.add_argument("--hours", type=float, default=8.0)
    args = ap.parse_args(argv)
    study = Study(test_seed=args.test_seed, actors=args.actors, hours=args.hours)
    rows = table(study)

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    print("| persona | family | taught | left out | family left out | novelty alone |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['persona']} | {r['family']} | {f(r['taught'])} | {f(r['left_out'])} | "
            f"{f(r['family_left_out'])} | {f(r['novelty_alone'])} |"
        )


if __name__ == "__main__":
    main()
