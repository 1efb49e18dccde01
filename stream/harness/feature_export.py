"""Per-actor feature vectors from recorded events, for training models offline.

The events go through the worker's own pipeline, offline
(:class:`~stream.harness.offline.OfflineRun` with ``export_vectors``): the rows are exactly
the vectors the detector scores — one per actor per scoring interval (``[score]
interval_s`` of its event time, once it has ``min_events`` events) — under the policy
given. The columns are the feature names of the code
(:data:`~stream.core.features.FEATURE_NAMES`), whatever they are today.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from models import REGISTRY
from stream.core.features import FEATURE_NAMES
from stream.core.policy import Policy
from stream.core.policy_loader import load_policy
from stream.harness.evaluation import is_bot
from stream.harness.offline import OfflineRun

FIXED_COLUMNS = ("actor", "label", "bot", "ts")


@dataclass
class ExportStats:
    events: int = 0
    invalid: int = 0  # refused by the contract (the worker would dead-letter them)
    rows: int = 0
    actors: set[str] = field(default_factory=set)


def feature_rows(
    events: Iterable[dict[str, Any]], stats: ExportStats, policy: Policy | None = None
) -> Iterator[tuple[str, float, dict[str, float]]]:
    """``(actor, event time, features)`` of every score the detector would compute."""
    docs = list(events)
    stats.events += len(docs)
    run = OfflineRun(policy or load_policy(), REGISTRY.get("hst").spec(), export_vectors=True)
    result = run.run(docs)
    stats.invalid += sum(n for k, n in result.stats.items() if k.startswith("dead_"))
    yield from result.vectors


def export(
    events: Iterable[dict[str, Any]],
    labels: dict[str, str],
    out: Path,
    *,
    policy: Policy | None = None,
    name_actor: Callable[[str], str] = str,
) -> ExportStats:
    """Write ``out/features.csv`` and ``out/features.jsonl`` (the same rows)."""
    out.mkdir(parents=True, exist_ok=True)
    stats = ExportStats()
    columns = [*FIXED_COLUMNS, *FEATURE_NAMES]
    with (
        open(out / "features.csv", "w", newline="") as csv_file,
        open(out / "features.jsonl", "wb") as jsonl,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(columns)
        for actor, ts, vector in feature_rows(events, stats, policy):
            label = labels.get(actor, "")
            row: dict[str, Any] = {
                "actor": name_actor(actor),
                "label": label,
                "bot": (1 if is_bot(label) else 0) if label else None,
                "ts": ts,
                **{name: vector[name] for name in FEATURE_NAMES},
            }
            writer.writerow(["" if row[c] is None else row[c] for c in columns])
            jsonl.write(orjson.dumps(row) + b"\n")
            stats.rows += 1
            stats.actors.add(actor)
    return stats
