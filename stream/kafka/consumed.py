"""Whether a consumer group has consumed a topic up to now — exactly, on any broker.

An end marker (:mod:`stream.kafka.read_to_end`) is written to every partition of the
topic; the group has consumed everything published before this call once the offset it
committed on each partition is past that partition's marker. Every scrapeguard consumer
commits past markers without handling them. End offsets are not used: the embedded
broker reports them short of the true end (docs/architecture.md, "Known broker quirks"),
and a consumer that committed up to them would seem done with records still ahead of it.

Used by ``scrapeguard evaluate`` to wait until the worker has worked a replayed log or
simulation (requests, then the correlator's activity, then its group signals: one
:class:`Stage` each, with one admin client and one producer for all) instead of reading
results while events are still queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from stream.kafka.config import aiokafka_kwargs
from stream.kafka.read_to_end import write_markers
from stream.settings import Settings


class NotConsumed(TimeoutError):
    """A consumer group did not reach the end markers in time, or stopped moving."""


class NoEnd(NotConsumed):
    """There is no end to wait for: the topic does not exist, or markers are refused."""


async def committed(
    admin: AIOKafkaAdminClient, group: str, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offsets ``group`` committed on ``tps`` (0 where it committed none)."""
    offsets = await admin.list_consumer_group_offsets(group, partitions=tps)
    return {tp: max(0, offsets[tp].offset) if tp in offsets else 0 for tp in tps}


@dataclass(frozen=True)
class Stage:
    """Wait for consumer group ``group`` to have worked ``topic`` (``what`` names it)."""

    what: str
    group: str
    topic: str


async def wait_stages(
    settings: Settings,
    stages: list[Stage],
    timeout_s: float,
    stalled_s: float,
    progress: Callable[[str, int], None] | None = None,
    poll_s: float = 0.5,
) -> dict[str, int]:
    """Wait, one stage after the other, until each stage's group has committed past an end
    marker written to each partition of its topic when that stage begins. Returns the
    records each stage had left when its wait began (``what`` → count).

    Raises :class:`NotConsumed` when the stages are not done within ``timeout_s`` in all,
    or a stage's records left have not gone down for ``stalled_s`` (no consumer of that
    group running); :class:`NoEnd` when there is no end to wait for (no such topic, or
    markers refused). ``progress`` is told ``(what, records left)`` about every 5 s.
    """
    kwargs = aiokafka_kwargs(settings)
    left: dict[str, int] = {}
    async with contextlib.AsyncExitStack() as stack:
        admin = AIOKafkaAdminClient(**kwargs)
        await admin.start()
        stack.push_async_callback(admin.close)
        producer = AIOKafkaProducer(acks="all", **kwargs)
        await producer.start()
        stack.push_async_callback(producer.stop)
        topics = set(await admin.list_topics())
        deadline = time.monotonic() + timeout_s
        for stage in stages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotConsumed(f"not done with {stage.what} after {timeout_s:.0f} s")
            # looked up first: asking the producer for a missing topic would create it, with
            # the broker's default partition count (not co-partitioned with the others)
            if stage.topic not in topics:
                raise NoEnd(
                    f"topic {stage.topic!r} does not exist: no worker has run with this app id"
                )
            parts = await producer.partitions_for(stage.topic)
            tps = [TopicPartition(stage.topic, p) for p in sorted(parts)]
            try:
                ends = await write_markers(producer, tps)
            except KafkaError as exc:  # an ACL: no exact end to wait for
                raise NoEnd(
                    f"cannot write end markers to {stage.topic!r} (an ACL?): {exc}"
                ) from None
            told = None if progress is None else functools.partial(progress, stage.what)
            left[stage.what] = await _until_past(
                admin, stage.group, stage.topic, tps, ends, remaining, stalled_s, told, poll_s
            )
    return left


async def _until_past(
    admin: AIOKafkaAdminClient,
    group: str,
    topic: str,
    tps: list[TopicPartition],
    ends: dict[TopicPartition, int],
    timeout_s: float,
    stalled_s: float,
    progress: Callable[[int], None] | None,
    poll_s: float,
) -> int:
    start = time.monotonic()
    last_move = last_told = start
    left0 = best = -1
    left, error = -1, ""
    while True:
        try:
            done = await committed(admin, group, tps)
        except KafkaError as exc:  # a coordinator moving or loading: ask again
            error = f"; last error: {exc}"
        else:
            if all(done[tp] >= ends[tp] for tp in tps):
                return max(0, left0)
            # the records before the markers (each marker is the last record to work)
            left = sum(max(0, ends[tp] - 1 - done[tp]) for tp in tps)
            behind = sum(max(0, ends[tp] - done[tp]) for tp in tps)
            if left0 < 0:
                left0 = left
            if best < 0 or behind < best:
                best, last_move = behind, time.monotonic()
        now = time.monotonic()
        if now - start > timeout_s or now - last_move > stalled_s:
            why = (
                f"not done after {timeout_s:.0f} s"
                if now - start > timeout_s
                else f"no progress for {stalled_s:.0f} s"
            )
            raise NotConsumed(
                f"consumer group {group!r} has {max(0, left)} records of {topic!r} left to "
                f"work ({why}{error})"
            )
        if progress is not None and now - last_told >= 5.0 and left >= 0:
            progress(left)
            last_told = now
        await asyncio.sleep(poll_s)
