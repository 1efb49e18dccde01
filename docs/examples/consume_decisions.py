"""Read scrapeguard's decisions in a consumer group with confluent-kafka (librdkafka).

    pip install confluent-kafka
    python consume_decisions.py --bootstrap kafka1:9092 --group my-gateway

What an enforcement service does: join a consumer group on the `decisions` topic, skip
scrapeguard's end markers (key "\\0scrapeguard:end-marker", no value), act on each decision
(docs/schemas/decision.schema.json) — here: print it as a JSON line — and commit.
Every instance of one gateway shares the group; each gateway has its own group (or reads
every partition itself, to hold all decisions in memory).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError

MARKER_KEY = b"\x00scrapeguard:end-marker"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092", help="host:port[,host:port]")
    ap.add_argument("--group", default="example-gateway", help="consumer group id")
    ap.add_argument("--topic", default="decisions")
    ap.add_argument("--until-actor", help="stop after a block of this actor (for a demo)")
    ap.add_argument("--timeout-s", type=float, default=0, help="stop after this long (0: never)")
    args = ap.parse_args()
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",  # a new group starts at the oldest decision
            "enable.auto.commit": False,  # commit after acting, never before
        }
    )
    consumer.subscribe([args.topic])
    deadline = time.monotonic() + args.timeout_s if args.timeout_s else None
    try:
        while deadline is None or time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                print(f"consumer error: {msg.error()}", file=sys.stderr)
                continue
            if msg.value() is None and msg.key() == MARKER_KEY:
                continue  # an end marker: no data
            decision = json.loads(msg.value())
            if not decision.get("shadow"):  # shadow decisions are recorded, not enforced
                print(json.dumps(decision), flush=True)
            consumer.commit(message=msg, asynchronous=False)
            if decision["actor"] == args.until_actor and decision["action"] == "block":
                return 0
    finally:
        consumer.close()  # leaves the group at once: its partitions move without a wait
    return 0 if args.until_actor is None else 1


if __name__ == "__main__":
    sys.exit(main())
