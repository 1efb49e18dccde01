"""``scrapeguard keys``: make the secret keys a worker needs."""

from __future__ import annotations

import click

from stream.keys import generate


@click.group()
def keys() -> None:
    """The four keys a worker refuses to start without (see docs/security.md)."""


@keys.command(name="new")
def new_keys() -> None:
    """Print a new random set as SCRAPEGUARD_*=... lines (an env file; keep it secret).

    \b
      scrapeguard keys new > scrapeguard.keys.env && chmod 600 scrapeguard.keys.env
    Every worker of a deployment needs the same four keys.
    """
    for name, value in generate().items():
        click.echo(f"{name}={value}")
