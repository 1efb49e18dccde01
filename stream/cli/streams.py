"""``scrapeguard publish`` and ``scrapeguard decisions``: the topics from the terminal."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import click
import orjson

from stream.cli.board import describe
from stream.cli.common import broker_option, build_settings, friendly_errors
from stream.cli.enforcement_cmd import add as manual_add
from stream.cli.enforcement_cmd import delete as manual_delete
from stream.core.records import Decision
from stream.core.validation import actor_key_of
from stream.kafka.read_to_end import tail
from stream.kafka.topics import admin_client, ensure_topics
from stream.kafka.writer import Message, write_all


def _line_key(line: bytes) -> bytes | None:
    """The actor key of a JSON line, when one can be derived (else the worker re-keys it)."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    key = actor_key_of(doc) if isinstance(doc, dict) else None
    return key.encode() if key else None


@click.command()
@click.argument("source", type=click.File("rb"), metavar="FILE|-")
@broker_option
@click.option("--topic", default=None, help="Topic to publish to [default: the requests topic].")
@friendly_errors
def publish(source: IO[bytes], broker: str | None, topic: str | None) -> None:
    """Publish request events, one JSON object per line, to `requests`.

    Each message is keyed by its actor (account, else session, else IP). Lines are
    sent as they are — malformed ones too, so you can watch them reach `deadletter`.
    Blank lines are skipped. Prints how many were sent.
    """
    settings = build_settings(broker=broker)
    ensure_topics(settings)
    target = topic or settings.topic_requests
    unkeyed = skipped = 0
    messages: list[Message] = []
    started = time.monotonic()
    for line in source:
        line = line.rstrip(b"\r\n")
        if not line.strip():
            skipped += 1
            continue
        key = _line_key(line)
        unkeyed += key is None
        messages.append((target, key, line, None))
    sent = write_all(settings, messages)
    click.echo(
        f"published {sent} messages to {target} in {time.monotonic() - started:.1f}s "
        f"({unkeyed} without a derivable actor key; {skipped} blank lines skipped)"
    )


@click.group(invoke_without_command=True)
@broker_option
@click.option("--follow", "-f", is_flag=True, help="Keep printing new decisions until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="One JSON decision per line.")
@click.pass_context
@friendly_errors
def decisions(ctx: click.Context, broker: str | None, follow: bool, as_json: bool) -> None:
    """Print the decisions on the `decisions` topic, oldest first; `add` and `delete`
    make manual ones.

    Reads from the beginning to the true end of the topic (an end marker, see
    docs/architecture.md); with --follow it then prints new decisions until Ctrl-C.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = build_settings(broker=broker)
    admin_client(settings).close()  # a clear error when no broker answers
    count = 0

    def show(rec: Any) -> None:
        nonlocal count
        d = Decision.decode(rec.value)  # a record that does not decode is skipped
        count += 1
        if as_json:
            sys.stdout.write(orjson.dumps(d.as_dict()).decode() + "\n")
        else:
            click.echo(describe(d))
        sys.stdout.flush()

    tail(settings, settings.topic_decisions, show, follow=follow)
    if not as_json:
        click.echo(f"({count} decisions)", err=True)


decisions.add_command(manual_add)
decisions.add_command(manual_delete)
