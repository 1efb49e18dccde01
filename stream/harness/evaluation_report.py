"""Writing an evaluation: a terminal table, ``report.json`` and an offline ``report.html``."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import orjson

from stream.extras import import_extra
from stream.harness.evaluation import Report, is_bot

TARGETS = (
    "Targets: bulk_scraper recall ≥ 0.99 and first challenge ≤ 60 s; other bots recall ≥ 0.90; "
    "people ≤ 0.1 % challenged, none blocked; allowlisted never acted on."
)


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def table(report: Report) -> str:
    """The evaluation table, as Markdown (reads well in a terminal too)."""
    head = (
        "| label | actors | recall / acted on | challenged | blocked | "
        "challenge p50 | challenge p95 | block p50 | block p95 |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in report.labels:
        share = f"{r.recall:.3f}" if r.kind == "bot" else f"{r.acted}/{r.actors} acted on"
        lines.append(
            f"| {r.label} | {r.actors} | {share} | {r.challenged} | {r.blocked} | "
            f"{_s(r.challenge_median_s)} | {_s(r.challenge_p95_s)} | "
            f"{_s(r.block_median_s)} | {_s(r.block_p95_s)} |"
        )
    s = report.summary
    precision = "-" if report.precision is None else f"{report.precision:.4f}"
    recall = "-" if s["bot_recall"] is None else f"{s['bot_recall']:.4f}"
    lines.append("")
    lines.append(
        f"precision {precision}; bot recall {recall}; "
        f"people challenged {s['people_challenged']}/{s['people']}, blocked "
        f"{s['people_blocked']}; allowlisted acted on {s['allowlisted_acted_on']}"
    )
    return "\n".join(lines)


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
    data = [[a.max_score for a in report.actors if a.label == lab] for lab in labels]
    ax.boxplot(data, vert=False, tick_labels=labels)
    ax.set_xlabel("maximum calibrated anomaly score per actor (0 = never scored)")
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
    md = table(report)
    rows = "".join(
        f"<tr><td>{html.escape(a.actor)}</td><td>{html.escape(a.label)}</td>"
        f"<td>{a.max_score:.3f}</td><td>{a.final_action}</td><td>{_s(a.first_action_s)}</td></tr>"
        for a in report.actors
        if a.acted or is_bot(a.label)
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;font-size:13px}}
pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(TARGETS)}</p>
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
