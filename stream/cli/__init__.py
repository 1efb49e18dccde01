"""The ``scrapeguard`` command."""

from __future__ import annotations

import click

from stream import __version__
from stream.cli.bench_cmd import bench
from stream.cli.broker import broker
from stream.cli.chaos_cmd import chaos
from stream.cli.harness import evaluate_cmd, replay, simulate
from stream.cli.incidents_cmd import explain_cmd, incidents
from stream.cli.models_cmd import models
from stream.cli.streams import decisions, publish
from stream.cli.stress import stress
from stream.cli.worker import run, worker
from stream.core.policy_loader import default_policy_text


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scrapeguard")
def main() -> None:
    """scrapeguard: detect mass scraping of personal data on a stream, decide what to do.

    Request events come in on Kafka (`requests`); allow / challenge / block
    decisions go out on `decisions`; what cannot be understood goes to `deadletter`
    with the reason. Settings come from SCRAPEGUARD_* environment variables
    (see deploy/scrapeguard.env.example) and the options of each command.

    Start with `scrapeguard run` to see it all on one machine.
    """


@click.command()
def policy() -> None:
    """Print the default policy file (copy it, edit it, pass it with --policy)."""
    click.echo(default_policy_text(), nl=False)


for command in (
    broker,
    worker,
    run,
    publish,
    decisions,
    policy,
    simulate,
    replay,
    evaluate_cmd,
    stress,
    models,
    incidents,
    explain_cmd,
    chaos,
    bench,
):
    main.add_command(command)

__all__ = ["main"]
