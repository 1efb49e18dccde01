"""``scrapeguard decisions add|delete`` (manual decisions, appeals) and
``scrapeguard bouncers add|list|delete`` (API keys for gateways and bouncers)."""

from __future__ import annotations

import getpass
import re
import time
import uuid

import click

from stream.cli.common import broker_option, build_settings, friendly_errors
from stream.core.actor_ref import parse_actor
from stream.core.bouncer_keys import check_name, hash_key, new_key
from stream.core.operator_records import BouncerKey, ManualDecision, manual_key
from stream.core.utc_text import MINUTES, utc_text
from stream.kafka.read_to_end import read_all
from stream.kafka.topics import ensure_topics
from stream.kafka.writer import write_all
from stream.runtime.topic_readers import control_key
from stream.settings import Settings

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str) -> float:
    """``24h``, ``90m``, ``1h30m``, ``7d``, ``45s`` or plain seconds → seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise click.BadParameter(f"{text!r} is not a duration like 24h, 90m, 1h30m or 7d")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _publish_manual(settings: Settings, m: ManualDecision, key: bytes) -> None:
    ensure_topics(settings)
    record = m.encode(manual_key(key))
    write_all(settings, [(settings.manual_topic, m.actor.encode(), record, None)])


def _manual(
    broker: str | None, actor: str, op: str, action: str, ttl_s: float, reason: str, by: str | None
) -> None:
    settings = build_settings(broker=broker)
    key = control_key(settings)
    if key is None:
        raise click.ClickException(
            "SCRAPEGUARD_CONTROL_KEY is not set: manual decisions are signed with a key "
            "derived from the one the workers hold (they refuse unsigned ones)"
        )
    try:
        ref = parse_actor(actor)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="ACTOR") from None
    limit = settings.decisions_retention_s
    if ttl_s > limit:
        raise click.BadParameter(
            f"at most {limit / 86400:g} days (SCRAPEGUARD_DECISIONS_RETENTION_S: the decisions "
            "topic keeps every decision in force for caches to bootstrap from)",
            param_hint="--ttl",
        )
    if not reason.strip():
        raise click.BadParameter("say why (it goes into the audit trail)", param_hint="--reason")
    m = ManualDecision(
        manual_id=uuid.uuid4().hex,
        actor=ref.key,
        op=op,
        action=action,
        ttl_s=ttl_s,
        reason=reason.strip(),
        by=by or getpass.getuser(),
        ts=time.time(),
    )
    _publish_manual(settings, m, key)
    what = f"{action} for {ttl_s:g}s" if op == "add" else "lift what is in force"
    if op == "delete" and ttl_s > 0:
        what += f" and keep the rules off for {ttl_s:g}s"
    click.echo(f"manual decision {m.manual_id} for {ref.key}: {what} ({m.by}: {m.reason})")
    click.echo(
        "the worker that owns the actor applies it and publishes it on "
        f"{settings.topic_decisions} (origin: manual) within a second"
    )
    if op == "delete" and ttl_s == 0:
        click.echo(
            "the rules may decide again on the actor's next events; --ttl keeps them off",
            err=True,
        )


@click.command(name="add")
@click.argument("actor")
@click.option(
    "--action", type=click.Choice(["block", "challenge", "allow"]), required=True, help="What."
)
@click.option("--ttl", "ttl", default="24h", show_default=True, help="For how long (24h, 90m).")
@click.option("--reason", required=True, help="Why: kept in the audit trail and the incident.")
@click.option("--by", default=None, help="Who decides [default: the login name].")
@broker_option
@friendly_errors
def add(actor: str, action: str, ttl: str, reason: str, by: str | None, broker: str | None) -> None:
    """Put a decision about ACTOR in force by hand.

    ACTOR is account:ID, session:ID, ip:ADDRESS or range:CIDR (tenant/ in front for a
    tenant's). A manual block or challenge holds for its TTL whatever the rules say; a
    manual allow lifts what is in force and keeps the rules off the actor for its TTL.

    The record is signed with a key derived from SCRAPEGUARD_CONTROL_KEY, which this
    command needs: workers refuse (dead-letter) manual decisions that are not.
    """
    _manual(broker, actor, "add", action, parse_duration(ttl), reason, by)


@click.command(name="delete")
@click.argument("actor")
@click.option("--reason", required=True, help="Why (an appeal upheld …): kept in the audit trail.")
@click.option(
    "--ttl",
    "ttl",
    default="0",
    show_default=True,
    help="Also keep the rules off the actor for this long (24h).",
)
@click.option("--by", default=None, help="Who decides [default: the login name].")
@broker_option
@friendly_errors
def delete(actor: str, reason: str, ttl: str, by: str | None, broker: str | None) -> None:
    """Lift the decision in force about ACTOR (an appeal upheld).

    Signed as `decisions add` is: needs SCRAPEGUARD_CONTROL_KEY.
    """
    _manual(broker, actor, "delete", "allow", parse_duration(ttl), reason, by)


# -- bouncers ------------------------------------------------------------------------
def _bouncers(settings: Settings) -> dict[str, BouncerKey]:
    out: dict[str, BouncerKey] = {}
    for rec in read_all(settings, settings.bouncers_topic):
        name = rec.key.decode() if rec.key else ""
        if rec.value is None:
            out.pop(name, None)
            continue
        try:
            out[name] = BouncerKey.decode(rec.value)
        except ValueError:
            continue
    return out


@click.group()
def bouncers() -> None:
    """API keys for gateways and bouncers (X-Api-Key on /check and /v1/decisions/stream)."""


@bouncers.command(name="add")
@click.argument("name")
@broker_option
@friendly_errors
def bouncers_add(name: str, broker: str | None) -> None:
    """Make a key for bouncer NAME; printed once, alone on the last line, stored hashed."""
    settings = build_settings(broker=broker)
    check_name(name)
    ensure_topics(settings)
    if name in _bouncers(settings):
        raise click.ClickException(f"a bouncer named {name!r} exists (delete it first)")
    key = new_key()
    record = BouncerKey(name, hash_key(key), time.time(), getpass.getuser())
    write_all(settings, [(settings.bouncers_topic, name.encode(), record.encode(), None)])
    click.echo(f"API key for {name!r} (keep it: it is stored hashed and cannot be shown again):")
    click.echo(key)


@bouncers.command(name="list")
@broker_option
@friendly_errors
def bouncers_list(broker: str | None) -> None:
    """The bouncers that have a key."""
    settings = build_settings(broker=broker)
    ensure_topics(settings)
    found = _bouncers(settings)
    if not found:
        click.echo("no bouncers (scrapeguard bouncers add NAME makes a key)")
    for name, b in sorted(found.items()):
        made = utc_text(b.created_at, MINUTES)
        click.echo(f"{name}  created {made} by {b.created_by or '-'}  sha256 {b.key_sha256[:12]}…")


@bouncers.command(name="delete")
@click.argument("name")
@broker_option
@friendly_errors
def bouncers_delete(name: str, broker: str | None) -> None:
    """Revoke bouncer NAME's key (every worker refuses it within seconds)."""
    settings = build_settings(broker=broker)
    ensure_topics(settings)
    if name not in _bouncers(settings):
        raise click.ClickException(f"no bouncer named {name!r}")
    write_all(settings, [(settings.bouncers_topic, name.encode(), None, None)])
    click.echo(f"deleted bouncer {name!r}")
