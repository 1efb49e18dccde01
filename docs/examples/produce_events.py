"""Publish request events to scrapeguard with confluent-kafka (librdkafka).

    pip install confluent-kafka
    python produce_events.py --bootstrap kafka1:9092 events.jsonl

Reads one JSON request event per line (docs/schemas/request-event.schema.json) and
publishes it to the `requests` topic, keyed by its actor: the rule every producer must
follow so that all of an actor's events reach the same partition (docs/contracts.md).
Self-contained on purpose: a platform service copies `actor_key` and `produce` as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from confluent_kafka import KafkaError, Message, Producer


def _id(value: Any) -> str | None:
    """Identifiers are strings or integers; empty or null means absent."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, int | str) else None


def actor_key(event: dict[str, Any]) -> str | None:
    """The Kafka key: account:<id>, else session:<id>, else ip:<ip>; tenant/ prefixed."""
    account, session, ip = _id(event.get("account_id")), _id(event.get("session_id")), None
    if isinstance(event.get("ip"), str) and event["ip"]:
        ip = event["ip"]
    if account is not None:
        key = "account:" + account
    elif session is not None:
        key = "session:" + session
    elif ip is not None:
        key = "ip:" + ip
    else:
        return None  # no identity: scrapeguard dead-letters the event (missing_identity)
    tenant = _id(event.get("tenant"))
    return key if tenant is None else f"{tenant}/{key}"


def produce(producer: Producer, topic: str, event: dict[str, Any]) -> None:
    producer.produce(
        topic,
        key=actor_key(event),
        value=json.dumps(event, separators=(",", ":")).encode(),
        on_delivery=_delivered,
    )
    producer.poll(0)  # serve delivery callbacks


failures: list[str] = []


def _delivered(err: KafkaError | None, msg: Message) -> None:
    if err is not None:
        failures.append(f"{msg.key()!r}: {err}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", help="JSON lines, one request event each (- for stdin)")
    ap.add_argument("--bootstrap", default="127.0.0.1:9092", help="host:port[,host:port]")
    ap.add_argument("--topic", default="requests")
    args = ap.parse_args()
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "enable.idempotence": True,  # acks=all, no duplicates on retry, order kept
            "linger.ms": 5,
            # gzip or none: the worker reads no lz4, snappy or zstd batches (docs/contracts.md)
            "compression.type": "gzip",
        }
    )
    source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    sent = 0
    with source:
        for line in source:
            if line.strip():
                produce(producer, args.topic, json.loads(line))
                sent += 1
    left = producer.flush(30)
    if left or failures:
        print(f"{left} not delivered; failures: {failures[:5]}", file=sys.stderr)
        return 1
    print(f"published {sent} events to {args.topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
