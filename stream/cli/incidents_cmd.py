"""``scrapeguard incidents`` and ``scrapeguard explain``."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
import orjson

from stream.cli.common import (
    as_json_option,
    broker_option,
    build_settings,
    friendly_errors,
    out_option,
)
from stream.core.breach_report import build, render
from stream.core.ledger import Sealer
from stream.core.utc_text import MINUTES, utc_text
from stream.runtime.topic_readers import latest_incidents, ledger_entries
from stream.settings import Settings


def _get(settings: Settings, incident_id: str) -> dict[str, Any]:
    inc = latest_incidents(settings).get(incident_id)
    if inc is None:
        raise click.ClickException(f"no incident {incident_id!r} on {settings.topic_incidents}")
    return inc


def _t(ts: float) -> str:
    return utc_text(ts, MINUTES)


@click.group()
def incidents() -> None:
    """Incidents and the affected-people ledger: list, show, breach-assessment report."""


@incidents.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Closed ones too.")
@as_json_option
@broker_option
@friendly_errors
def list_incidents(show_all: bool, as_json: bool, broker: str | None) -> None:
    """Open incidents (newest activity first)."""
    settings = build_settings(broker=broker)
    rows = [i for i in latest_incidents(settings).values() if show_all or i["status"] == "open"]
    rows.sort(key=lambda i: i["last_activity_at"], reverse=True)
    if as_json:
        click.echo(orjson.dumps({"incidents": rows}).decode())
        return
    if not rows:
        click.echo("no incidents" if show_all else "no open incidents (--all shows closed ones)")
    for i in rows:
        click.echo(
            f"{i['incident_id']}  {i['status']:<6} {i['severity']:<8} "
            f"{_t(i['opened_at'])} → {_t(i['last_activity_at'])}  "
            f"actors {i['actor_count']}, people {i['affected_profiles']}, "
            f"fields {','.join(i['fields_exposed']) or '-'}  [{i['key']}]"
        )


@incidents.command()
@click.argument("incident_id")
@broker_option
@friendly_errors
def show(incident_id: str, broker: str | None) -> None:
    """The latest state of one incident, as JSON."""
    inc = _get(build_settings(broker=broker), incident_id)
    click.echo(orjson.dumps(inc, option=orjson.OPT_INDENT_2).decode())


@incidents.command()
@click.argument("incident_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json"]),
    default="md",
    show_default=True,
    help="Markdown, HTML (prints to PDF from a browser) or JSON.",
)
@click.option(
    "--reveal-with",
    "keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File with the ledger key: open the sealed profile ids.",
)
@out_option(None, "incident-<ID>.<format> instead of stdout")
@broker_option
@friendly_errors
def report(
    incident_id: str, fmt: str, keyfile: Path | None, out: Path | None, broker: str | None
) -> None:
    """The breach-assessment report: span, actors, affected people, fields, evidence."""
    settings = build_settings(broker=broker)
    inc = _get(settings, incident_id)
    ledger = ledger_entries(settings, incident_id)
    sealer = Sealer.from_file(keyfile) if keyfile else None
    text = render(build(inc, ledger, sealer), fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"incident-{incident_id}.{fmt}"
        path.write_text(text)
        click.echo(f"wrote {path}", err=True)


@incidents.command(name="new-key")
def new_key() -> None:
    """Print a new ledger key (set it as SCRAPEGUARD_LEDGER_KEY; keep a copy offline)."""
    click.echo(Sealer.new_key().decode())


@click.command(name="explain")
@click.argument("actor")
@click.option(
    "--url",
    default=None,
    metavar="URL",
    help="A worker's HTTP API [default: http://SCRAPEGUARD_WEB_HOST:WEB_PORT].",
)
@as_json_option
@friendly_errors
def explain_cmd(actor: str, url: str | None, as_json: bool) -> None:
    """Why ACTOR is allowed, challenged or blocked, in plain words (asks a worker)."""
    settings = build_settings()
    base = url or f"http://{settings.web_host}:{settings.web_port}"
    req = urllib.request.Request(f"{base}/explain/{quote(actor, safe='')}")
    if settings.api_token:
        req.add_header("Authorization", f"Bearer {settings.api_token.get_secret_value()}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"{base} answered {exc.code}: {exc.read()[:200]!r}") from None
    except OSError as exc:
        raise click.ClickException(
            f"no worker answered at {base} ({exc}); is `scrapeguard worker` running?"
        ) from None
    if as_json:
        click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"{actor}: {body.get('action_in_force', 'unknown')}")
    for line in body["words"]:
        click.echo(f"  - {line}")
    for d in body.get("decisions", []):
        click.echo(
            f"  history: {_t(d['ts'])} {d['action']}"
            f"{' (shadow)' if d['shadow'] else ''}: {'; '.join(d['reasons'])}"
        )
