"""``scrapeguard config``: the effective settings, where each comes from, and a preflight."""

from __future__ import annotations

from typing import Any

import click
import orjson
from pydantic import SecretStr

from stream.cli.common import as_json_option, build_settings_with_sources
from stream.settings import Settings
from stream.settings_sources import unknown_variables


def effective(settings: Settings) -> dict[str, Any]:
    """Every setting, JSON-ready, secrets masked (``"***"`` when set, null when not)."""
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "***"
        elif value is not None and not isinstance(value, int | float | bool | str | dict):
            value = str(value)
        out[name] = value
    return out


@click.command()
@as_json_option
def config(as_json: bool) -> None:
    """Print the effective settings (secrets masked) and where each came from.

    Options of a command beat SCRAPEGUARD_* variables, which beat the settings file
    (scrapeguard --settings FILE, or SCRAPEGUARD_SETTINGS_FILE), which beats the
    defaults; an empty value means unset. Exits 1 when a setting is invalid, the policy
    file does not load, the model is unknown or a SCRAPEGUARD_* variable is no setting.
    """
    settings, sources = build_settings_with_sources()
    values = effective(settings)
    problems = [f"{name} is not a setting (a typo?)" for name in unknown_variables()]
    from stream.core.policy import PolicyError
    from stream.core.policy_loader import load_policy

    try:
        load_policy(settings.policy_file)
    except PolicyError as exc:
        problems.append(f"policy: {exc}")
    from models import REGISTRY
    from models.registry import UnknownModel

    try:
        REGISTRY.get(settings.model).validate(settings.model_params)
    except (UnknownModel, ValueError) as exc:
        problems.append(f"model: {exc}")
    if as_json:
        origins = {name: sources.origin(name) for name in values}
        doc = {"settings": values, "sources": origins, "problems": problems}
        click.echo(orjson.dumps(doc).decode())
    else:
        if sources.file is not None:
            click.echo(f"# settings file: {sources.file}")
        width = max(len(n) for n in values)
        for name, value in values.items():
            shown = orjson.dumps(value).decode()
            origin = sources.origin(name)
            click.echo(
                f"{name:<{width}} = {shown}" + ("" if origin == "default" else f"  # {origin}")
            )
    if problems:
        raise click.ClickException("; ".join(problems) if as_json else "\n".join(problems))
