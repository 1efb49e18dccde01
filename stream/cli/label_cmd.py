"""``scrapeguard label``: tell the models what an actor was (the ``outcomes`` topic)."""

from __future__ import annotations

import getpass
import time
import uuid
from pathlib import Path

import click

from stream.cli.common import broker_option, build_settings, friendly_errors
from stream.core.actor_ref import parse_actor
from stream.core.outcomes import ActorOutcome
from stream.kafka.topics import ensure_topics
from stream.kafka.writer import write_all

# (--as, LABEL) -> outcome kind
KIND_OF = {
    ("verdict", "bot"): "verdict_bot",
    ("verdict", "human"): "verdict_human",
    ("appeal", "human"): "appeal_upheld",
    ("appeal", "bot"): "appeal_rejected",
    ("challenge", "human"): "challenge_solved",
    ("challenge", "bot"): "challenge_failed",
    ("challenge", "abandoned"): "challenge_abandoned",
}
LABELS = ("bot", "human", "abandoned")


def _kind(source: str, label: str, where: str) -> str:
    kind = KIND_OF.get((source, label))
    if kind is None:
        raise click.BadParameter(
            f"{where}: {label!r} is not a label for --as {source} "
            f"(use {' or '.join(lb for s, lb in KIND_OF if s == source)})"
        )
    return kind


def _actor(text: str, where: str) -> str:
    try:
        ref = parse_actor(text)
    except ValueError as exc:
        raise click.BadParameter(f"{where}: {exc}") from None
    if ref.scope == "range":
        raise click.BadParameter(f"{where}: label one actor, not a range")
    return ref.key


def read_label_file(path: Path, source: str) -> list[tuple[str, str]]:
    """``ACTOR LABEL`` per line (whitespace or a comma between; ``#`` comments; an
    ``actor,label`` header allowed) → (actor, outcome kind); errors name file and line."""
    rows: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{path}: cannot read ({exc})", param_hint="--file") from None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.replace(",", " ").split()]
        where = f"{path}:{n}"
        if len(parts) != 2:
            raise click.BadParameter(f"{where}: expected ACTOR LABEL, got {line!r}")
        if n == 1 and parts[1].lower() == "label":
            continue  # a header
        actor = _actor(parts[0], where)
        if actor in seen:  # a label teaches once: a second one would only be counted
            raise click.BadParameter(f"{where}: {actor} is labelled on line {seen[actor]} too")
        seen[actor] = n
        rows.append((actor, _kind(source, parts[1].lower(), where)))
    if not rows:
        raise click.BadParameter(f"{path}: no labels in the file", param_hint="--file")
    return rows


@click.command(name="label")
@click.argument("actor", required=False)
@click.argument("label", required=False, type=click.Choice(LABELS))
@click.option(
    "--as",
    "source",
    type=click.Choice(["verdict", "appeal", "challenge"]),
    default="verdict",
    show_default=True,
    help="What the label comes from: an analyst's verdict, an appeal's result (human = "
    "upheld), or a challenge (human = solved, bot = failed, abandoned = no label).",
)
@click.option("--reason", required=True, help="Why: kept in the audit trail of the topic.")
@click.option("--by", default=None, help="Who labels [default: the login name].")
@click.option("--decision-id", default="", help="The decision the label answers, if any.")
@click.option(
    "--file",
    "label_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Label many actors: one 'ACTOR LABEL' per line (or 'actor,label' CSV).",
)
@broker_option
@friendly_errors
def label(
    actor: str | None,
    label: str | None,
    source: str,
    reason: str,
    by: str | None,
    decision_id: str,
    label_file: Path | None,
    broker: str | None,
) -> None:
    """Tell the models what ACTOR was: LABEL is bot or human (abandoned with --as challenge).

    Labels teach, decisions enforce: a label goes to the outcomes topic, where the worker
    that owns the actor keeps it as the actor's verdict and, when the verdict changes and
    the actor has enough events, teaches it once to the models that learn from labels (an
    actor with a bot verdict is not learned as normal traffic). It does not put a decision
    in force or lift one: use `scrapeguard decisions add|delete`.

    ACTOR is account:ID, session:ID or ip:ADDRESS (tenant/ in front for a tenant's), as in
    decisions and reports. Example: scrapeguard label account:42 bot --reason "case 17".
    """
    if label_file is not None:
        if actor is not None:
            raise click.UsageError("give either ACTOR LABEL or --file, not both")
        rows = read_label_file(label_file, source)
    else:
        if actor is None or label is None:
            raise click.UsageError("give ACTOR and LABEL (bot or human), or --file")
        rows = [(_actor(actor, "ACTOR"), _kind(source, label, "LABEL"))]
    if not reason.strip():
        raise click.BadParameter("say why (it goes into the audit trail)", param_hint="--reason")
    settings = build_settings(broker=broker)
    who = by or getpass.getuser()
    now = time.time()
    outcomes = [
        ActorOutcome(uuid.uuid4().hex, a, kind, reason.strip(), who, now, decision_id)
        for a, kind in rows
    ]
    try:  # what the worker would refuse is refused here, before anything is sent
        ActorOutcome.decode(outcomes[0].encode())
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("outcome: ")) from None
    ensure_topics(settings)
    write_all(
        settings, [(settings.outcomes_topic, o.actor.encode(), o.encode(), None) for o in outcomes]
    )
    for o in outcomes[:20]:
        click.echo(f"outcome {o.outcome_id} for {o.actor}: {o.kind} ({o.by}: {o.reason})")
    if len(outcomes) > 20:
        click.echo(f"... and {len(outcomes) - 20} more")
    click.echo(
        f"published {len(outcomes)} outcome(s) on {settings.outcomes_topic}; the worker that "
        "owns each actor teaches the models within a second"
    )
