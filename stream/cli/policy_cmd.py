"""``scrapeguard policy``: the packaged default policy, to start your own from."""

from __future__ import annotations

import click

from stream.core.policy_loader import default_policy_text


@click.command()
def policy() -> None:
    """Print the default policy file (copy it, edit it, pass it with --policy)."""
    click.echo(default_policy_text(), nl=False)
