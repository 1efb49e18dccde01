"""Whether a consumer group has consumed a topic up to now — exactly, on any broker.

An end marker (:mod:`stream.kafka.read_to_end`) is written to every partition of the
topic; the group has consumed everything published before this call once the offset it
committed on each partition is past that partition's marker. Every scrapeguard consumer
commits past markers without handling them. End offsets are not used: the embedded
broker reports them short of the true end (docs/architecture.md, "Known broker quirks"),
and a consumer that committed up to them would seem done with records still ahead of it.

Used by ``scrapeguard evaluate`` to wait until the worker has worked a replayed log or
simulation (requests, then the correlator's activity, then its group signals) instead of
reading results while events are still queued.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from stream.kafka.config import aiokafka_kwargs
from stream.kafka.read_to_end import write_markers
from stream.settings import Settings


class NotConsumed(TimeoutError):
    """A consumer group did not reach the end markers in time, or stopped moving."""


async def committed(
    admin: AIOKafkaAdminClient, group: str, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offsets ``group`` committed on ``tps`` (0 where it committed none)."""
    offsets = await admin.list_consumer_group_offsets(group, partitions=tps)
    return {tp: max(0, offsets[tp].offset) if tp in offsets else 0 for tp in tps}


async def wait_consumed(
    settings: Settings,
    group: str,
    topic: str,
    timeout_s: float,
    stalled_s: float,
    progress: Callable[[int], None] | None = None,
    poll_s: float = 0.5,
) -> int:
    """Wait until ``group`` has committed past an end marker written now to each partition
    of ``topic``. Returns how many records it had left when the wait began.

    Raises :class:`NotConsumed` after ``timeout_s``, or when the records left have not
    gone down for ``stalled_s`` (no consumer of that group running). ``progress`` is told
    the records left, about every 5 s while waiting.
    """
    kwargs = aiokafka_kwargs(settings)
    producer = AIOKafkaProducer(acks="all", **kwargs)
    admin = AIOKafkaAdminClient(**kwargs)
    await producer.start()
    await admin.start()
    try:
        try:
            parts = await producer.partitions_for(topic)
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            ends = await write_markers(producer, tps)
        except KafkaError as exc:  # no such topic, or an ACL: no exact end to wait for
            raise NotConsumed(f"cannot write end markers to {topic!r}: {exc}") from None
        start = time.monotonic()
        last_move = last_told = start
        left0 = best = -1
        while True:
            done = await committed(admin, group, tps)
            left = sum(max(0, ends[tp] - done[tp]) for tp in tps)
            now = time.monotonic()
            if left0 < 0:
                left0 = left
            if left == 0:
                return left0
            if best < 0 or left < best:
                best, last_move = left, now
            if now - start > timeout_s or now - last_move > stalled_s:
                why = (
                    f"not done after {timeout_s:.0f} s"
                    if now - start > timeout_s
                    else f"no progress for {stalled_s:.0f} s"
                )
                raise NotConsumed(
                    f"consumer group {group!r} has {left} records of {topic!r} left to work ({why})"
                )
            if progress is not None and now - last_told >= 5.0:
                progress(left)
                last_told = now
            await asyncio.sleep(poll_s)
    finally:
        await admin.close()
        await producer.stop()
