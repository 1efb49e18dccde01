"""``scrapeguard publish`` and ``scrapeguard decisions``: the topics from the terminal."""

from __future__ import annotations

import sys
import time
from typing import IO

import click
import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from stream.cli.board import describe
from stream.cli.common import broker_option, build_settings, friendly_errors
from stream.core.records import Decision
from stream.core.validation import actor_key
from stream.kafka.config import kafka_python_kwargs
from stream.kafka.topics import admin_client, ensure_topics


def event_key(line: bytes) -> bytes | None:
    """The actor key of a JSON line, when one can be derived (else the worker re-keys it)."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    ids = []
    for name in ("account_id", "session_id", "ip", "tenant"):
        value = doc.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        ids.append(value if isinstance(value, str) and value else None)
    key = actor_key(*ids)
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
    producer = KafkaProducer(
        linger_ms=20, batch_size=256 * 1024, acks="all", **kafka_python_kwargs(settings)
    )
    sent = unkeyed = skipped = 0
    failures: list[str] = []
    started = time.monotonic()
    try:
        for line in source:
            line = line.rstrip(b"\r\n")
            if not line.strip():
                skipped += 1
                continue
            key = event_key(line)
            unkeyed += key is None
            fut = producer.send(target, value=line, key=key)
            fut.add_errback(lambda exc: failures.append(str(exc)))
            sent += 1
        producer.flush()
    finally:
        producer.close()
    if failures:
        raise click.ClickException(f"{len(failures)} of {sent} messages failed: {failures[0]}")
    click.echo(
        f"published {sent} messages to {target} in {time.monotonic() - started:.1f}s "
        f"({unkeyed} without a derivable actor key; {skipped} blank lines skipped)"
    )


@click.command()
@broker_option
@click.option("--follow", "-f", is_flag=True, help="Keep printing new decisions until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="One JSON decision per line.")
@click.option(
    "--idle",
    default=2.0,
    show_default=True,
    metavar="S",
    help="Without --follow: stop after S seconds without a new decision.",
)
@friendly_errors
def decisions(broker: str | None, follow: bool, as_json: bool, idle: float) -> None:
    """Print the decisions on the `decisions` topic, oldest first.

    Reads from the beginning; without --follow it stops once the topic has been
    quiet for --idle seconds (end offsets alone are not trusted: the embedded broker
    under-reports them).
    """
    settings = build_settings(broker=broker)
    admin_client(settings).close()  # a clear error when no broker answers
    consumer = KafkaConsumer(
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        **kafka_python_kwargs(settings),
    )
    try:
        parts = consumer.partitions_for_topic(settings.topic_decisions)
        if not parts:
            raise click.ClickException(f"topic {settings.topic_decisions!r} does not exist yet")
        tps = [TopicPartition(settings.topic_decisions, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        quiet_since = time.monotonic()
        count = 0
        while follow or time.monotonic() - quiet_since < idle:
            batch = consumer.poll(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    quiet_since = time.monotonic()
                    count += 1
                    if as_json:
                        sys.stdout.write(rec.value.decode() + "\n")
                    else:
                        click.echo(describe(Decision.from_dict(orjson.loads(rec.value))))
            sys.stdout.flush()
    except KafkaError as exc:
        raise click.ClickException(f"reading decisions failed: {exc}") from None
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    if not as_json:
        click.echo(f"({count} decisions)", err=True)
