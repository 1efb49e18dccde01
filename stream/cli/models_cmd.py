"""``scrapeguard models``: list, deploy, promote, roll back (the commands that judge a
model, ``evaluate`` and ``compare``, are :mod:`stream.cli.model_evaluation_cmd`)."""

from __future__ import annotations

import getpass
import socket

import click
import orjson

from models import REGISTRY
from stream.cli.common import (
    broker_option,
    build_settings,
    friendly_errors,
)
from stream.cli.model_evaluation_cmd import compare, evaluate_model, model_spec, params_of
from stream.core import control
from stream.kafka.topics import ensure_topics
from stream.kafka.writer import write_all
from stream.runtime.topic_readers import control_key, model_slots
from stream.settings import Settings


@click.group()
def models() -> None:
    """Model lifecycle: the registry, offline evaluation, shadow, promotion, rollback.

    Control commands are signed with SCRAPEGUARD_CONTROL_KEY and published to the
    control topic; every worker applies them between two batches, without a restart
    and without touching window state.
    """


@models.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--offline", is_flag=True, help="Do not read the control topic.")
@broker_option
@friendly_errors
def list_models(as_json: bool, offline: bool, broker: str | None) -> None:
    """Registered models, their parameters, and which one is live / shadow."""
    settings = build_settings(broker=broker)
    log = model_slots(settings, offline=offline)
    slots, refused = log.slots, log.refused
    rows = []
    for entry in REGISTRY:
        role = (
            "live"
            if slots.live.name == entry.name
            else "shadow"
            if slots.shadow and slots.shadow.name == entry.name
            else ""
        )
        params = (
            slots.live.params
            if role == "live"
            else slots.shadow.params
            if role == "shadow" and slots.shadow
            else entry.defaults
        )
        rows.append(
            {
                "name": entry.name,
                "version": entry.version,
                "role": role,
                "params": dict(params),
                "description": entry.description,
            }
        )
    if as_json:
        click.echo(
            orjson.dumps(
                {"models": rows, "slots": slots.as_dict(), "refused_control_messages": refused}
            ).decode()
        )
        return
    for r in rows:
        role = f" [{r['role']}]" if r["role"] else ""
        click.echo(f"{r['name']}@{r['version']}{role}  {r['description']}")
        click.echo(f"    params: {orjson.dumps(r['params']).decode()}")
    if slots.history:
        click.echo("rollback would return to: " + slots.history[-1].label())
    for line in refused:
        click.echo(f"refused control message at {line}", err=True)


def _send(settings: Settings, message: bytes) -> None:
    ensure_topics(settings)
    write_all(settings, [(settings.topic_control, None, message, 0)])


def _issuer() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _need_key(settings: Settings) -> bytes:
    key = control_key(settings)
    if key is None:
        raise click.ClickException(
            "SCRAPEGUARD_CONTROL_KEY is not set: control messages must "
            "be signed with the key the workers hold"
        )
    return key


@models.command()
@click.argument("name")
@click.option("--params", default=None, metavar="JSON", help="Model parameters.")
@click.option("--shadow", is_flag=True, help="Deploy as challenger (shadow).")
@click.option("--live", is_flag=True, help="Deploy as the live model (fresh).")
@broker_option
@friendly_errors
def deploy(name: str, params: str | None, shadow: bool, live: bool, broker: str | None) -> None:
    """Deploy model NAME as shadow (scores beside the live one) or live."""
    if shadow == live:
        raise click.UsageError(
            "--shadow and --live exclude each other" if shadow else "say --shadow or --live"
        )
    slot = "shadow" if shadow else "live"
    settings = build_settings(broker=broker)
    spec = model_spec(name, params_of(params))
    REGISTRY.get(name).build(spec.params)  # fail here, not on the workers
    key = _need_key(settings)
    issuer = _issuer()
    seq = model_slots(settings).slots.next_seq(issuer)
    _send(settings, control.make("deploy", key, spec=spec, slot=slot, issuer=issuer, seq=seq))
    click.echo(
        f"sent: deploy {spec.label()} {orjson.dumps(dict(spec.params)).decode()} as "
        f"{slot}; workers apply it between two batches"
    )


def _lifecycle(op: str, broker: str | None) -> None:
    settings = build_settings(broker=broker)
    key = _need_key(settings)
    slots = model_slots(settings).slots
    if op in ("promote", "retire_shadow") and slots.shadow is None:
        raise click.ClickException("there is no shadow model (deploy one with --shadow)")
    if op == "rollback" and not slots.history:
        raise click.ClickException("there is no earlier live model to roll back to")
    issuer = _issuer()
    _send(settings, control.make(op, key, issuer=issuer, seq=slots.next_seq(issuer)))
    target = {
        "promote": f"{slots.shadow.label() if slots.shadow else ''} becomes live",
        "rollback": f"{slots.history[-1].label() if slots.history else ''} becomes live again",
        "retire_shadow": "the shadow model is removed",
    }[op]
    click.echo(f"sent: {op} ({target}); workers apply it between two batches")


@models.command()
@broker_option
@friendly_errors
def promote(broker: str | None) -> None:
    """Make the shadow model live, keeping what it learned and all window state."""
    _lifecycle("promote", broker)


@models.command()
@broker_option
@friendly_errors
def rollback(broker: str | None) -> None:
    """Return to the previous live model (with what it had learned)."""
    _lifecycle("rollback", broker)


@models.command(name="retire-shadow")
@broker_option
@friendly_errors
def retire_shadow(broker: str | None) -> None:
    """Remove the shadow model."""
    _lifecycle("retire_shadow", broker)


def _fit_prior() -> click.Command:
    from stream.cli.prior_cmd import fit_prior

    return fit_prior


def _sweep() -> click.Command:
    from stream.cli.sweep_cmd import sweep_windows

    return sweep_windows


models.add_command(_fit_prior())
models.add_command(evaluate_model)
models.add_command(compare)
models.add_command(_sweep())
