"""Writing an evaluation: a terminal table, ``report.json`` and an offline ``report.html``."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import orjson

from stream.extras import import_extra
from stream.harness.controls import CONSTANT, MODEL, RULES_ONLY, Arm
from stream.harness.evaluation import (
    FIRST_ACTION_TARGET_S,
    LabelRow,
    Report,
    is_bot,
    meets_target,
)

TARGETS = (
    "Targets (issue 13): ROC AUC ≥ 0.95 for every bot persona; recall ≥ 0.99 for bulk_scraper, "
    "≥ 0.9 for low_and_slow and distributed; people acted on ≤ 0.1 %; median first challenge "
    "≤ 30 minutes of event time for every persona; allowlisted never acted on."
)


def duration(value: float | None) -> str:
    """Seconds as s, minutes (under 2 h) or hours; "-" for none."""
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _signed_s(value: float | None) -> str:
    if value is None:
        return "-"
    return ("-" if value < 0 else "+") + duration(abs(value))


def median_all(median_s: float | None) -> str:
    """A median over all of a label's actors: "never" when the middle one never was."""
    return "never" if median_s is None else duration(median_s)


def target_line(report: Report) -> str:
    """Which bot labels are caught within the target: their median time to first action
    over all their actors (never acted on = never) at most ``FIRST_ACTION_TARGET_S``."""
    bots = [r for r in report.labels if r.kind == "bot"]
    missed = [r for r in bots if not meets_target(r)]
    line = (
        f"first action within {FIRST_ACTION_TARGET_S / 60:g} min of event time, median over "
        f"all of a bot label's actors (never acted on = never): met for "
        f"{len(bots) - len(missed)} of {len(bots)} bot labels"
    )
    if missed:
        line += "; not met: " + ", ".join(
            f"{r.label} ({median_all(r.first_action_median_all_s)})" for r in missed
        )
    return line


def table(report: Report) -> str:
    """The evaluation table, as Markdown (reads well in a terminal too)."""
    within = f"{FIRST_ACTION_TARGET_S / 60:g} min"
    head = (
        "| label | actors | recall / acted on | challenged | blocked | "
        f"acted on within {within} | first action p50, all (never acted on = never) | "
        "first action p50, acted on | first action p95, acted on | block p50 | block p95 |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in report.labels:
        share = f"{r.recall:.3f}" if r.kind == "bot" else f"{r.acted}/{r.actors} acted on"
        lines.append(
            f"| {r.label} | {r.actors} | {share} | {r.challenged} | {r.blocked} | "
            f"{r.within_target}/{r.actors} | {median_all(r.first_action_median_all_s)} | "
            f"{duration(r.challenge_median_s)} | {duration(r.challenge_p95_s)} | "
            f"{duration(r.block_median_s)} | {duration(r.block_p95_s)} |"
        )
    s = report.summary
    precision = "-" if report.precision is None else f"{report.precision:.4f}"
    recall = "-" if s["bot_recall"] is None else f"{s['bot_recall']:.4f}"
    people_share = s.get("people_acted_share")
    lines.append("")
    lines.append(
        f"precision {precision}; bot recall {recall}; people acted on "
        f"{s.get('people_acted', 0)}/{s['people']}"
        + ("" if people_share is None else f" ({people_share:.2%})")
        + f" (challenged {s['people_challenged']}, blocked {s['people_blocked']}); "
        f"allowlisted acted on {s['allowlisted_acted_on']}"
    )
    if any(r.kind == "bot" for r in report.labels):
        lines.append(target_line(report))
    return "\n".join(lines)


def _acted(arm: Arm, row: LabelRow) -> str:
    if not arm.measured:
        return "-"
    share = arm.recall.get(row.label, 0.0)
    if row.kind == "bot":
        return f"{share:.3f}"
    return f"{round(share * row.actors)}/{row.actors}"


def _lift(model: Arm, other: Arm | None, row: LabelRow) -> str:
    if other is None or not other.measured:
        return "-"
    d = model.recall.get(row.label, 0.0) - other.recall.get(row.label, 0.0)
    if row.kind == "bot":
        return _signed(d)
    return f"{round(d * row.actors):+d}"  # people (or allowlisted) acted on: fewer is better


def controls_table(report: Report) -> str:
    """Per label: the model against rules-only and the constant control, with the lift,
    first-action medians and the label's AUC against people."""
    c = report.controls
    if c is None:
        return ""
    model, rules, const = c.arm(MODEL), c.arm(RULES_ONLY), c.arm(CONSTANT)
    assert model is not None
    per_label = {lr.label: lr for lr in report.ranking.per_label} if report.ranking else {}
    head = (
        "| label | actors | scored | model | rules-only | lift | constant | lift | "
        "first action p50 model / rules-only / constant | AUC all | AUC scored |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in report.labels:
        lr = per_label.get(r.label)
        times = " / ".join(
            duration(a.first_action_median_s.get(r.label)) if a is not None and a.measured else "-"
            for a in (model, rules, const)
        )
        lines.append(
            f"| {r.label} | {r.actors} | {r.scored} | {_acted(model, r)} | "
            f"{_acted(rules, r) if rules else '-'} | {_lift(model, rules, r)} | "
            f"{_acted(const, r) if const else '-'} | {_lift(model, const, r)} | {times} | "
            f"{_f(lr.auc_all if lr else None)} | {_f(lr.auc_scored if lr else None)} |"
        )
    lines.append("")
    for arm in c.arms:
        if not arm.measured:
            lines.append(f"{arm.name}: {arm.how}")
            continue
        share = arm.people_acted_share
        lines.append(
            f"{arm.name} ({arm.how}): bot recall {_f(arm.bot_recall)}, precision "
            f"{_f(arm.precision)}, people acted on {arm.people_acted}/{arm.people}"
            + ("" if share is None else f" ({share:.2%})")
            + f", median first action {duration(arm.bot_first_action_median_s)} (of the bots "
            "acted on)"
        )
    for arm in c.arms:
        lift = c.lift(arm.name) if arm.name != MODEL else None
        if not lift or not arm.measured:
            continue
        people = lift["people_acted"]
        lines.append(
            f"lift over {arm.name}: bot recall {_signed(lift['bot_recall'])}, people acted on "
            f"{'-' if people is None else f'{people:+d}'}, "
            f"precision {_signed(lift['precision'])}; first action, over the "
            f"{lift['first_action_pairs']} bots both acted on (- is sooner): median "
            f"{_signed_s(lift['first_action_paired_median_s'])}, mean "
            f"{_signed_s(lift['first_action_paired_mean_s'])}"
        )
    return "\n".join(lines)


def ranking_lines(report: Report) -> str:
    """AUC over all labelled actors and among the scored, recall at the fixed FPR."""
    rank = report.ranking
    if rank is None:
        return ""
    n = rank.bots + rank.people
    scored = rank.scored_bots + rank.scored_people
    lines = [
        f"ROC AUC bots vs people, all {n} labelled actors ({rank.unscored} unscored, "
        f"ranked lowest): {_f(rank.auc_all)}",
        f"ROC AUC among the {scored} scored ({rank.scored_bots} bots, "
        f"{rank.scored_people} people): {_f(rank.auc_scored)}",
    ]
    if rank.auc_latest is not None:
        per = rank.per_label
        lines.append(
            f"ROC AUC by each actor's latest score (the most evidence), all {n}: "
            f"{_f(rank.auc_latest)}"
            + (
                " — " + ", ".join(f"{r.label} {_f(r.auc_latest)}" for r in per)
                if len(per) > 1
                else ""
            )
        )
    at = rank.at_fpr
    if at.recall is not None:
        where = "any score" if at.threshold is None else f"score > {at.threshold:.4f}"
        lines.append(
            f"recall at {at.target_fpr:.0%} FPR ({where}; people above it {_f(at.fpr, 4)}): "
            f"{_f(at.recall)}"
            + (
                " — " + ", ".join(f"{lab} {v:.3f}" for lab, v in at.per_label.items())
                if len(at.per_label) > 1
                else ""
            )
        )
    c = report.controls
    const = c.arm(CONSTANT) if c is not None else None
    if const is not None:
        lines.append(
            f"constant control AUC among scored: {_f(const.auc_scored)}"
            + (f" ({const.auc_note})" if const.auc_note else "")
            + ("" if not const.measured else f"; over all labelled: {_f(const.auc_all)}")
        )
    return "\n".join(lines)


def full_text(report: Report) -> str:
    """Everything a terminal shows: labels matched, the tables, the AUC lines."""
    parts = []
    if report.resolution is not None:
        parts.append(report.resolution.summary())
    if report.split:
        sp = report.split
        parts.append(
            f"split {sp['kind']}: figures on {sp['labelled_test_actors']} labelled test actors "
            f"({sp['labelled_train_actors']} labelled train actors left out); "
            f"test share {sp['test_share']:g}"
        )
    parts.append(table(report))
    if report.controls is not None:
        parts.append(controls_table(report))
    parts.append(ranking_lines(report))
    return "\n\n".join(p for p in parts if p)


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buf.getvalue()).decode()


def plots(report: Report) -> dict[str, str]:
    """Base64 PNGs: score distribution per label, time-to-detect curves per bot label."""
    matplotlib = import_extra("matplotlib", "plotting a report")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    labels = [r.label for r in report.labels]
    fig, ax = plt.subplots(figsize=(9, 4))
    data = [
        [a.max_score for a in report.actors if a.label == lab and a.max_score is not None]
        for lab in labels
    ]
    ticks = [f"{r.label} ({r.scored}/{r.actors} scored)" for r in report.labels]
    ax.boxplot(data, vert=False, tick_labels=ticks)
    ax.set_xlabel("maximum calibrated anomaly score per scored actor (the unscored are left out)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_title("Score distribution per label")
    out["scores"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4))
    for lab in labels:
        if not is_bot(lab):
            continue
        rows = [a for a in report.actors if a.label == lab]
        times = sorted(a.first_action_s for a in rows if a.first_action_s is not None)
        if not rows:
            continue
        xs = [0.0] + [max(t, 1.0) for t in times]
        ys = [0.0] + [(i + 1) / len(rows) for i in range(len(times))]
        ax.step(xs, ys, where="post", label=lab)
    ax.set_xscale("symlog", linthresh=60)
    ax.set_xlabel("event time from an actor's first request to its first challenge or block (s)")
    ax.set_ylabel("share of actors acted on")
    ax.set_ylim(0, 1.05)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set_title("Time to detect")
    out["ttd"] = _png(fig)
    plt.close(fig)
    return out


def write(report: Report, out_dir: Path, title: str = "scrapeguard evaluation") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    json_path.write_bytes(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2))
    images = plots(report)
    md = full_text(report)
    rows = "".join(
        f"<tr><td>{html.escape(a.actor)}</td><td>{html.escape(a.label)}</td>"
        f"<td>{'unscored' if a.max_score is None else f'{a.max_score:.3f}'}</td>"
        f"<td>{a.final_action}</td><td>{duration(a.first_action_s)}</td></tr>"
        for a in report.actors
        if a.acted or is_bot(a.label)
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;font-size:13px}}
pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(TARGETS)}</p>
<p>How each figure is computed: docs/evaluation.md. AUC "all" ranks an actor the model never
scored below every scored one; "scored" leaves the unscored out. Lift is the model minus a
control run on the same events: rules-only (no score may act) and a constant score.</p>
<pre>{html.escape(md)}</pre>
<h2>Score distribution per label</h2>
<img alt="scores" src="data:image/png;base64,{images["scores"]}">
<h2>Time to detect</h2>
<img alt="time to detect" src="data:image/png;base64,{images["ttd"]}">
<h2>Actors acted on, and every bot</h2>
<table><tr><th>actor</th><th>label</th><th>max score</th><th>final action</th>
<th>time to first action</th></tr>{rows}</table>
</body></html>"""
    html_path = out_dir / "report.html"
    html_path.write_text(page)
    return [json_path, html_path]
