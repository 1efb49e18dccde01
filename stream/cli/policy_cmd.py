"""``scrapeguard policy``: the packaged default, checking a file, what-if, deploying."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from stream.cli.common import as_json_option, broker_option, build_settings, friendly_errors
from stream.core.policy import PolicyError
from stream.core.policy_loader import default_policy_text, load_policy

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(invoke_without_command=True)
@click.pass_context
def policy(ctx: click.Context) -> None:
    """The policy: print the default (no subcommand), check a file, compare, deploy.

    A policy file overrides the packaged defaults key by key: copy the default, keep
    what you change. Unknown keys, wrong types and values out of range are refused with
    the file and line.
    """
    if ctx.invoked_subcommand is None:
        click.echo(default_policy_text(), nl=False)


@policy.command(name="show")
def show() -> None:
    """Print the packaged default policy (every key, documented)."""
    click.echo(default_policy_text(), nl=False)


@policy.command(name="check")
@click.argument("file", type=FILE)
@click.option(
    "--events",
    "events_file",
    type=FILE,
    default=None,
    help="Recorded request events (JSON lines): show the decisions by reason under FILE "
    "against the policy in force.",
)
@click.option(
    "--against",
    type=FILE,
    default=None,
    help="The policy in force to compare with [default: SCRAPEGUARD_POLICY_FILE, else the "
    "packaged policy].",
)
@click.option(
    "--model",
    default=None,
    help="Model for the what-if runs [default: SCRAPEGUARD_MODEL, hst].",
)
@as_json_option
@friendly_errors
def check(
    file: Path,
    events_file: Path | None,
    against: Path | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Check policy FILE; exit 1 on any mistake (each reported with file and line).

    Settings that are valid but cannot take effect (a floor of a path whose sign
    require_one_of leaves out) are shown as notes; they do not fail the check.

    With --events, replay the events offline through the worker's pipeline under FILE
    and under the policy in force, and show the decisions by reason side by side.
    """
    try:
        proposed = load_policy(file)
    except PolicyError as exc:
        raise click.ClickException(f"policy not valid:\n{exc}") from None
    notes = proposed.inert_settings()
    if events_file is None:
        if as_json:
            click.echo(orjson.dumps({"file": str(file), "valid": True, "notes": notes}).decode())
        else:
            click.echo(f"{file}: valid")
            for note in notes:
                click.echo(f"  note: {note}")
        return
    from models import REGISTRY
    from stream.harness.offline import read_events_file
    from stream.harness.policy_whatif import what_if

    settings = build_settings(model=model)
    current_file = against or settings.policy_file
    current = load_policy(current_file)
    spec = REGISTRY.get(settings.model).spec(settings.model_params)
    result = what_if(current, proposed, spec, read_events_file(events_file))
    if as_json:
        doc = {
            "file": str(file),
            "valid": True,
            "notes": notes,
            "against": str(current_file or "<default>"),
        }
        click.echo(orjson.dumps({**doc, **result.as_dict()}).decode())
        return
    now, new = str(current_file or "in force (default)"), str(file)
    click.echo(f"{file}: valid")
    for note in notes:
        click.echo(f"  note: {note}")
    click.echo(f"what if, on {result.events} events ({events_file}), model {spec.label()}:")
    width = max([len(f"{a} {r}") for a, r, _, _ in result.rows()] + [20])
    click.echo(f"  {'decisions by reason':<{width}}  {now:>14}  {new:>14}")
    for action, reason, c, p in result.rows():
        mark = "" if c == p else f"  ({p - c:+d})"
        click.echo(f"  {action + ' ' + reason:<{width}}  {c:>14}  {p:>14}{mark}")
    cur, pro = result.current, result.proposed
    click.echo(f"  {'decisions':<{width}}  {cur.decisions:>14}  {pro.decisions:>14}")
    click.echo(
        f"  {'actors challenged/blocked':<{width}}  {len(cur.acted_on):>14}  "
        f"{len(pro.acted_on):>14}  ({len(pro.acted_on - cur.acted_on)} only under {new}, "
        f"{len(cur.acted_on - pro.acted_on)} only under the policy in force)"
    )


@policy.command(name="deploy")
@click.argument("file", type=FILE)
@broker_option
@friendly_errors
def deploy(file: Path, broker: str | None) -> None:
    """Put policy FILE in force on every worker, without a restart.

    The file is checked here first (exit 1 on any mistake), then sent on the control
    topic signed with SCRAPEGUARD_CONTROL_KEY; each worker checks it again and applies
    it between two batches, in the detector and the correlator. It stays in force over
    the workers' own SCRAPEGUARD_POLICY_FILE (restarts too) until another is deployed.
    """
    import hashlib

    from stream.cli.models_cmd import _issuer, _need_key, _send
    from stream.core import control
    from stream.runtime.topic_readers import model_slots

    try:
        proposed = load_policy(file)
    except PolicyError as exc:
        raise click.ClickException(f"policy not valid, not sent:\n{exc}") from None
    for note in proposed.inert_settings():
        click.echo(f"note: {note}", err=True)
    text = file.read_text()
    if len(text.encode()) > control.MAX_POLICY_BYTES:
        raise click.ClickException(f"{file}: larger than the 256 KiB a control message takes")
    settings = build_settings(broker=broker)
    key = _need_key(settings)
    issuer = _issuer()
    seq = model_slots(settings).slots.next_seq(issuer)
    _send(settings, control.make("policy", key, issuer=issuer, seq=seq, policy=text))
    sha = hashlib.sha256(text.encode()).hexdigest()[:12]
    click.echo(f"sent: policy {sha} from {file}; workers apply it between two batches")
