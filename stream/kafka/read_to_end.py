"""Reading a topic to its true end — the one way every reader in scrapeguard knows it is done.

End offsets (``ListOffsets``) cannot be trusted: the embedded broker answers with the
base offset of the last record batch + 1, not the true end, when that batch held several
records (docs/architecture.md, "Known broker quirks"), so a reader that stopped there
would silently miss the newest records. Instead, :class:`TopicReader` writes an **end
marker** to every partition it reads — a record with key :data:`MARKER_KEY`, no value
and the header ``scrapeguard-marker`` — and reads until it has passed each marker's
acknowledged offset. Everything published before the marker is before it in the log,
on the embedded broker and on Apache Kafka alike.

Markers are skipped by every scrapeguard reader (:func:`is_marker`); a consumer of
scrapeguard's topics written elsewhere skips records without a value whose key is
:data:`MARKER_KEY` (documented in the contract). Nothing else is ever skipped: a marker
carries no data, so an attacker who writes one hides nothing. Where the reader may not
write to the topic (an ACL), it falls back to end offsets, which are exact on Apache
Kafka, and says so in a warning.

One reader serves three uses: restoring a changelog (some partitions, to the end),
catching up and then following a topic in every worker (all partitions, then onwards),
and reading a whole topic back in the CLI, harness and tests (:func:`read_all`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

from stream.kafka.config import aiokafka_kwargs
from stream.settings import Settings

log = structlog.get_logger(__name__)

MARKER_KEY = b"\x00scrapeguard:end-marker"
MARKER_HEADER = ("scrapeguard-marker", b"1")


class EndNotReached(TimeoutError):
    """A topic was not read to its end in time (the marker never came back)."""


def is_marker(record: Any) -> bool:
    """True for an end marker: key :data:`MARKER_KEY` and no value."""
    return record.value is None and record.key == MARKER_KEY


async def write_markers(
    producer: AIOKafkaProducer, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """An end marker on each of ``tps``; the offset just past each (acknowledged)."""
    futures = [
        await producer.send(
            tp.topic, key=MARKER_KEY, value=None, partition=tp.partition, headers=[MARKER_HEADER]
        )
        for tp in tps
    ]
    return {tp: (await f).offset + 1 for tp, f in zip(tps, futures, strict=True)}


OnRecord = Callable[[Any], None]


class TopicReader:
    """Reads ``partitions`` (all when None) of each topic in ``handlers`` from the beginning.

    ``handlers[topic]`` sees every record of its topic but the markers. What it raises is
    the error policy of a bad record on an internal topic: the record is skipped, counted
    in :attr:`stats` (``skipped``) and logged with a warning — a reader never stops on
    one record.
    """

    def __init__(
        self,
        settings: Settings,
        handlers: Mapping[str, OnRecord],
        partitions: Iterable[int] | None = None,
        *,
        producer: AIOKafkaProducer | None = None,
        fetch_max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.settings = settings
        self.handlers = dict(handlers)
        self.wanted = sorted(set(partitions)) if partitions is not None else None
        self.stats: Counter[str] = Counter()
        self._producer = producer
        self._own_producer = producer is None
        self._fetch_max_bytes = fetch_max_bytes
        self.consumer: AIOKafkaConsumer | None = None
        self.tps: list[TopicPartition] = []
        self.caught_up = asyncio.Event()

    async def start(self) -> None:
        consumer = self.consumer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=self._fetch_max_bytes,
            fetch_max_wait_ms=50,
            **aiokafka_kwargs(self.settings),
        )
        await consumer.start()
        for topic in self.handlers:
            parts = set(self.wanted) if self.wanted is not None else await self._all(topic)
            self.tps += [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(self.tps)
        if self.tps:
            await consumer.seek_to_beginning(*self.tps)

    async def _all(self, topic: str) -> set[int]:
        consumer = self.consumer
        assert consumer is not None
        for _ in range(50):
            parts = consumer.partitions_for_topic(topic)
            if parts:
                return set(parts)
            await consumer.topics()  # refresh metadata
            await asyncio.sleep(0.1)
        raise LookupError(f"topic {topic!r} does not exist")

    async def stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(KafkaError):
                await self.consumer.stop()
        if self._own_producer and self._producer is not None:
            with contextlib.suppress(KafkaError):
                await self._producer.stop()

    # -- the end -----------------------------------------------------------------------
    async def _ends(self) -> dict[TopicPartition, int]:
        """Offset of a marker written now to each partition (or end offsets, see above)."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(acks="all", **aiokafka_kwargs(self.settings))
            await self._producer.start()
        try:
            return await write_markers(self._producer, self.tps)
        except KafkaError as exc:
            assert self.consumer is not None
            log.warning(
                "end_marker_refused",
                topics=sorted(self.handlers),
                error=str(exc),
                action="reading up to the end offsets the broker reports",
            )
            return dict(await self.consumer.end_offsets(self.tps))

    async def read_to_end(self, timeout_s: float = 120.0) -> int:
        """Deliver every record published before this call; return how many."""
        consumer = self.consumer
        assert consumer is not None, "start() first"
        ends = await self._ends()
        pending = {tp for tp in self.tps if ends[tp] > 0}
        read = 0
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                late = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in pending))
                raise EndNotReached(f"{late} not read to their end within {timeout_s:.0f}s")
            batch = await consumer.getmany(*pending, timeout_ms=200, max_records=50_000)
            read += self._deliver(batch)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        self.caught_up.set()
        return read

    async def follow(self) -> None:
        """Deliver records as they arrive, until stopped."""
        consumer = self.consumer
        assert consumer is not None
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=1000)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                log.warning("follow_failed", topics=sorted(self.handlers), error=str(exc))
                await asyncio.sleep(1.0)
                continue
            self._deliver(batch)

    def _deliver(self, batch: dict[TopicPartition, list[Any]]) -> int:
        n = 0
        for tp, records in batch.items():
            handler = self.handlers[tp.topic]
            for rec in records:
                if is_marker(rec):
                    continue
                n += 1
                try:
                    handler(rec)
                except Exception as exc:  # the error policy: skip, count, warn
                    self.stats["skipped"] += 1
                    log.warning(
                        "record_skipped",
                        topic=rec.topic,
                        partition=rec.partition,
                        offset=rec.offset,
                        error=f"{type(exc).__name__}: {exc}",
                    )
        return n


async def deliver_records(
    settings: Settings,
    topic: str,
    on_record: OnRecord,
    partitions: Iterable[int] | None = None,
    timeout_s: float = 300.0,
    follow: bool = False,
) -> None:
    """Every record of ``topic`` to its end (aiokafka ``ConsumerRecord``, markers left
    out) to ``on_record``, each partition in order, none held; then (``follow``) new
    ones until cancelled."""
    reader = TopicReader(settings, {topic: on_record}, partitions)
    await reader.start()
    try:
        await reader.read_to_end(timeout_s)
        if follow:
            await reader.follow()
    finally:
        await reader.stop()


async def read_records(
    settings: Settings,
    topic: str,
    partitions: Iterable[int] | None = None,
    timeout_s: float = 300.0,
) -> list[Any]:
    """Every record of ``topic`` (aiokafka ``ConsumerRecord``, markers left out)."""
    records: list[Any] = []
    await deliver_records(settings, topic, records.append, partitions, timeout_s)
    return records


def read_all(
    settings: Settings,
    topic: str,
    partitions: Iterable[int] | None = None,
    timeout_s: float = 300.0,
) -> list[Any]:
    """Synchronous :func:`read_records`, for the CLI, the harness and the tests."""
    return asyncio.run(read_records(settings, topic, partitions, timeout_s))


def for_each_record(settings: Settings, topic: str, on_record: OnRecord) -> None:
    """Synchronous :func:`deliver_records`: a topic too large to hold (``requests``)
    folded record by record. A record ``on_record`` raises on is skipped and counted
    (the reader's error policy), so it should be total."""
    asyncio.run(deliver_records(settings, topic, on_record))


def decode_all(
    settings: Settings, topic: str, decode: Callable[[bytes | None], Any]
) -> tuple[list[Any], int]:
    """Every record of ``topic`` decoded, and how many could not be (skipped)."""
    out: list[Any] = []
    bad = 0
    for rec in read_all(settings, topic):
        try:
            out.append(decode(rec.value))
        except ValueError:
            bad += 1
    return out, bad


def tail(settings: Settings, topic: str, on_record: OnRecord, follow: bool = False) -> None:
    """Deliver every record of ``topic`` to its end, then (``follow``) new ones until
    interrupted (Ctrl-C)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(deliver_records(settings, topic, on_record, timeout_s=120.0, follow=follow))
