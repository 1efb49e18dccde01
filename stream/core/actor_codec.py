"""The binary form of an :class:`~stream.core.actor_state.ActorState` (no pickle).

Written to the actor-state changelog once per batch per changed actor and read back on
restore; the cold tier of :mod:`stream.core.actor_table` keeps it compressed. Versioned:
a blob of another version, truncated, or with trailing bytes is refused with ValueError.

Version 4 adds the enforcement's origin, the end of a manual allow, the incident key of
the last decision, its newest navigation, when the actor is next due for a score, what
outcomes said of it, and its browsing behaviour; version 3 blobs (written before) still
decode, with a rules origin, no manual allow, no incident key and a fresh behaviour.
The user-agent byte holds flags (:data:`~stream.core.automation.AUTOMATION_BIT`, and
``CRAWLER_BIT`` since the ``[crawlers]`` limits); blobs written before hold 0 or 1, which
read the same. A worker rolled back to the code before reads a set ``CRAWLER_BIT`` as an
automation user agent, until the actor's next request with a user agent. The flags byte's
bit 16 marks the share of the actor's group that scores high (an 8-byte float after the
group's reason); blobs written before have no such bit and read as a share of 0. Bit 32
marks the group of the actor's /24 when its address's group is held too (bit 4): both
are held apart since. Before, one slot held either; a /24's group held alone is still
written there (a blob with a /24's reason in bit 4's slot is read into the /24's). A
worker rolled back to the code before refuses a blob with both (it misreads what follows)
and starts that actor afresh: an actor whose address's group and /24's group both came
within a day of its newest event (a slot lapsed a day before that is cleared when the
next signal comes: ``side_inputs``).
"""

from __future__ import annotations

import math
import struct
from array import array
from typing import Any

from stream.core.actions import Action
from stream.core.actor_state import ActorState
from stream.core.automation import AUTOMATION_BIT, CRAWLER_BIT
from stream.core.behaviour import Behaviour
from stream.core.counters import DAY_DISTINCT, HOUR_DISTINCT, IP_DISTINCT
from stream.core.enforcement import Origin
from stream.core.internal_records import ADDRESS_METRIC, SUBNET_METRIC
from stream.core.records import in_expiry_range, in_time_range
from stream.core.windows import DistinctSpec, SlidingDistinct, shared_int

VERSION = 4
_HEAD3 = struct.Struct("<BddqqqdddqdBBdddqBII")
_HEAD = struct.Struct(_HEAD3.format + "Bd")  # + origin, allow_until
_SUBNET = struct.Struct("<ddH")  # the /24's group: expires, share, reason's length
_DHEAD = struct.Struct("<qqHH")  # head, last_sweep, n_exact (or 0), sketch bytes (or 0)
# the head and the rings' heads in one pack (little-endian formats have no padding, so
# this is byte for byte _HEAD then "<qq")
_HEAD_RINGS = struct.Struct(_HEAD.format + "qq")
_TAIL = struct.Struct("<ddB")  # newest navigation, next score, verdict
_HOUR_RING_BYTES = 60 * 3 * 2  # uint16 (requests, views, errors) per minute
_DAY_RING_BYTES = 24 * 4  # uint32 requests per hour
# the newest event time sits at a fixed offset in both versions (version B, first_ts d,
# last_ts d), and no blob is shorter than the version 3 head, the rings and the flags
LAST_TS_OFFSET = 9
MIN_BYTES = _HEAD3.size + 16 + _HOUR_RING_BYTES + _DAY_RING_BYTES + 1
_LAST_TS = struct.Struct("<d")


def encode(state: ActorState) -> bytes:
    c, e = state.counters, state.enforcement
    # arrays go into the join as they are (buffers): no intermediate copies
    parts: list[bytes | bytearray | array[Any]] = [
        _HEAD_RINGS.pack(
            VERSION,
            c.first_ts,
            c.last_ts,
            state.last_offset,
            c.events,
            c.views,
            c.created_ts,
            c.gap_mean,
            c.gap_var,
            c.last_target,
            c.seq_share,
            (AUTOMATION_BIT if c.automation else 0) | (CRAWLER_BIT if c.crawler_ua else 0),
            int(e.action),
            e.expires,
            e.since,
            state.score,
            e.views_at_action,
            state.allowlisted,
            state.allow_sig,
            c.ip0,
            int(e.origin),
            e.allow_until,
            c.hour.head,
            c.day.head,
        ),
        c.hour.dense_bytes(),
        c.day.dense_bytes(),
    ]
    # a /24's group alone is written where one slot held either before (bit 4; the decoder
    # reads it back into its own slot), so a worker rolled back reads it
    alone = not state.group_reason
    group = (state.subnet_reason if alone else state.group_reason).encode()
    expires, share = (
        (state.subnet_expires, state.subnet_share)
        if alone
        else (state.group_expires, state.group_share)
    )
    subnet = b"" if alone else state.subnet_reason.encode()
    incident = e.incident.encode()
    flags = (
        (1 if c.distinct_hour is not None else 0)
        | (2 if c.ips is not None else 0)
        | (4 if group else 0)
        | (8 if incident else 0)
        | (16 if group and share else 0)
        | (32 if subnet else 0)
    )
    parts.append(bytes((flags,)))
    if c.distinct_hour is not None and c.distinct_day is not None:
        parts.append(_pack_distinct(c.distinct_hour))
        parts.append(_pack_distinct(c.distinct_day))
    if c.ips is not None:
        parts.append(_pack_distinct(c.ips))
    if group:
        parts.append(struct.pack("<dH", expires, len(group)) + group)
        if share:
            parts.append(struct.pack("<d", share))
    if subnet:
        parts.append(_SUBNET.pack(state.subnet_expires, state.subnet_share, len(subnet)) + subnet)
    if incident:
        parts.append(struct.pack("<H", len(incident)) + incident)
    parts.append(_TAIL.pack(c.nav_ts, state.next_score_ts, state.verdict))
    state.behaviour.dump_into(parts)
    return b"".join(parts)


def decode(data: bytes) -> ActorState:
    """Inverse of :func:`encode`. Raises ValueError on a malformed blob."""
    try:
        return _decode(memoryview(data))
    except (struct.error, IndexError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed actor state: {exc}") from exc


def newest_ts(data: bytes) -> float:
    """The newest event time of an encoded state, read without decoding it: a cheap check
    of untrusted bytes (version, minimum length, a finite time). Raises ValueError.

    Passing it does not make the blob decodable: :func:`decode` may still refuse it."""
    if len(data) < MIN_BYTES:
        raise ValueError(f"actor state too short ({len(data)} bytes)")
    if data[0] not in (3, VERSION):
        raise ValueError(f"unknown actor state version {data[0]}")
    (ts,) = _LAST_TS.unpack_from(data, LAST_TS_OFFSET)
    # a time of 1e300 would become the partition's watermark on restore: every other actor
    # idle, expired (in_time_range refuses NaN and infinities too)
    return in_time_range(float(ts), "actor state")


def _pack_distinct(d: SlidingDistinct) -> bytes:
    head, last_sweep, members, stamps = d.dump()
    if stamps is not None:
        return _DHEAD.pack(head, last_sweep, len(members) // 4, 0) + members + stamps
    return _DHEAD.pack(head, last_sweep, 0, len(members)) + members


def _unpack_distinct(spec: DistinctSpec, buf: memoryview, pos: int) -> tuple[SlidingDistinct, int]:
    head, last_sweep, n_exact, n_sketch = _DHEAD.unpack_from(buf, pos)
    pos += _DHEAD.size
    if n_sketch:
        members = bytes(buf[pos : pos + n_sketch])
        pos += n_sketch
        return SlidingDistinct.load(spec, head, last_sweep, members, None), pos
    members = bytes(buf[pos : pos + 4 * n_exact])
    pos += 4 * n_exact
    stamps = bytes(buf[pos : pos + 4 * n_exact])
    pos += 4 * n_exact
    if len(stamps) != 4 * n_exact:
        raise ValueError("truncated distinct set")
    return SlidingDistinct.load(spec, head, last_sweep, members, stamps), pos


def _decode(buf: memoryview) -> ActorState:
    version = buf[0]
    if version not in (3, VERSION):
        raise ValueError(f"unknown actor state version {version}")
    head = _HEAD if version == VERSION else _HEAD3
    fields = head.unpack_from(buf, 0)
    s = ActorState()
    c, e = s.counters, s.enforcement
    if version == VERSION:
        e.origin, e.allow_until = Origin(fields[-2]), fields[-1]
        fields = fields[:-2]
    (
        _,
        c.first_ts,
        c.last_ts,
        s.last_offset,
        c.events,
        c.views,
        c.created_ts,
        c.gap_mean,
        c.gap_var,
        c.last_target,
        c.seq_share,
        automation,
        action,
        e.expires,
        e.since,
        s.score,
        e.views_at_action,
        allowlisted,
        s.allow_sig,
        c.ip0,
    ) = fields
    c.automation, c.crawler_ua = bool(automation & AUTOMATION_BIT), bool(automation & CRAWLER_BIT)
    s.allowlisted = bool(allowlisted)
    e.action = Action(action)
    pos = head.size
    hour_head, day_head = struct.unpack_from("<qq", buf, pos)
    c.hour.head, c.day.head = shared_int(hour_head), shared_int(day_head)
    pos += 16
    for counter, n in ((c.hour, _HOUR_RING_BYTES), (c.day, _DAY_RING_BYTES)):
        if pos + n > len(buf):
            raise ValueError("truncated window ring")
        counter.load_ring(buf[pos : pos + n])  # the totals too
        pos += n
    flags = buf[pos]
    pos += 1
    if flags & 1:
        c.distinct_hour, pos = _unpack_distinct(HOUR_DISTINCT, buf, pos)
        c.distinct_day, pos = _unpack_distinct(DAY_DISTINCT, buf, pos)
    if flags & 2:
        c.ips, pos = _unpack_distinct(IP_DISTINCT, buf, pos)
    if flags & 4:
        s.group_expires, n = struct.unpack_from("<dH", buf, pos)
        pos += 10
        s.group_reason = bytes(buf[pos : pos + n]).decode()
        pos += n
        if flags & 16:
            (s.group_share,) = struct.unpack_from("<d", buf, pos)
            pos += 8
            if not 0.0 <= s.group_share <= 1.0:
                raise ValueError("group share out of [0, 1]")
        if not math.isfinite(s.group_expires):
            raise ValueError("group expiry is not a time")
        if s.group_reason.startswith(SUBNET_METRIC + " "):  # a /24's alone (see encode)
            s.subnet_reason, s.subnet_expires, s.subnet_share = (
                s.group_reason,
                s.group_expires,
                s.group_share,
            )
            s.group_reason, s.group_expires, s.group_share = "", 0.0, 0.0
            if flags & 32:
                raise ValueError("two groups of a /24")
        elif not s.group_reason.startswith(ADDRESS_METRIC + " "):
            raise ValueError("unknown group metric")
    if flags & 32:
        s.subnet_expires, s.subnet_share, n = _SUBNET.unpack_from(buf, pos)
        pos += _SUBNET.size
        s.subnet_reason = bytes(buf[pos : pos + n]).decode()
        pos += n
        if not (
            0.0 <= s.subnet_share <= 1.0
            and math.isfinite(s.subnet_expires)
            and s.subnet_reason.startswith(SUBNET_METRIC + " ")
        ):
            raise ValueError("the /24's group is inconsistent")
    if flags & 8:
        (n,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        e.incident = bytes(buf[pos : pos + n]).decode()
        pos += n
        if pos > len(buf):
            raise ValueError("truncated incident key")
    if version == VERSION:
        c.nav_ts, s.next_score_ts, s.verdict = struct.unpack_from("<ddB", buf, pos)
        if s.verdict > 2:
            raise ValueError("unknown verdict")
        pos += 17
        s.behaviour, pos = Behaviour.load(buf, pos)
    if pos != len(buf):
        raise ValueError("trailing bytes in actor state")
    if not (0 <= c.events < 2**53 and 0 <= c.views < 2**53 and c.gap_var >= 0.0):
        # one more event past 2**63 fails to encode (the worker stops on it after every
        # restore); a negative variance fails every score
        raise ValueError("counts out of range")
    _check_times(s)
    return s


def _check_times(s: ActorState) -> None:
    """Refuse times a state's own events cannot have made: windows or behaviour ahead of its
    newest event (their counts would stop growing), and enforcement times past the range
    (a decision never renewed; ``/explain`` could not print it)."""
    c, e = s.counters, s.enforcement
    last = in_time_range(c.last_ts, "actor state")
    in_time_range(c.first_ts, "actor state")
    for w in (c.hour, c.day):
        if w.head > w.slot_of(last):
            raise ValueError("actor state: a window is ahead of the newest event")
    for d in (c.distinct_hour, c.distinct_day, c.ips):
        if d is not None and not d.last_sweep <= d.head <= last // d.spec.slot_s:
            raise ValueError("actor state: a distinct count is ahead of the newest event")
    if s.behaviour.newest_ts() > last:
        raise ValueError("actor state: its behaviour is ahead of the newest event")
    for ts in (c.nav_ts, e.since):
        in_time_range(ts, "actor state")
    if c.created_ts != -1.0:
        in_time_range(c.created_ts, "actor state: account creation")
    for ts in (e.expires, e.allow_until, s.group_expires, s.subnet_expires, s.next_score_ts):
        in_expiry_range(ts, "actor state")
