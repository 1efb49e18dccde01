"""The ``scrapeguard`` command.

Commands are imported when they are run (click's lazy-group pattern), so ``scrapeguard
worker`` loads the worker and nothing of the harness, and ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from stream import __version__

# name -> "module:attribute", in the order `scrapeguard --help` lists them
COMMANDS = {
    "run": "stream.cli.run:run",
    "worker": "stream.cli.worker:worker",
    "broker": "stream.cli.broker:broker",
    "publish": "stream.cli.streams:publish",
    "decisions": "stream.cli.streams:decisions",
    "bouncers": "stream.cli.enforcement_cmd:bouncers",
    "label": "stream.cli.label_cmd:label",
    "policy": "stream.cli.policy_cmd:policy",
    "config": "stream.cli.config_cmd:config",
    "features": "stream.cli.features_cmd:features",
    "explain": "stream.cli.incidents_cmd:explain_cmd",
    "incidents": "stream.cli.incidents_cmd:incidents",
    "models": "stream.cli.models_cmd:models",
    "keys": "stream.cli.keys_cmd:keys",
    "simulate": "stream.cli.harness:simulate",
    "replay": "stream.cli.replay_cmd:replay",
    "evaluate": "stream.cli.harness:evaluate_cmd",
    "stress": "stream.cli.stress:stress",
    "chaos": "stream.cli.chaos_cmd:chaos",
    "bench": "stream.cli.bench_cmd:bench",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: Any = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scrapeguard")
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Settings file: TOML (setting = value) or .env (SCRAPEGUARD_*=value); the "
    "environment and each command's options override it [env SCRAPEGUARD_SETTINGS_FILE].",
)
def main(settings_file: Path | None) -> None:
    """scrapeguard: detect mass scraping of personal data on a stream, decide what to do.

    Request events come in on Kafka (`requests`); allow / challenge / block
    decisions go out on `decisions`; what cannot be understood goes to `deadletter`
    with the reason. Settings come from each command's options, SCRAPEGUARD_*
    environment variables (see deploy/scrapeguard.env.example) and an optional
    settings file (--settings); `scrapeguard config` shows the result.

    Start with `scrapeguard run` to see it all on one machine.
    """


__all__ = ["COMMANDS", "main"]
