"""The pure core: one partition's micro-batch in, decisions and dead letters out.

validate → windowed features → model score → policy → decision, in one direction.
No Kafka here: the detector agent hands a batch of records (anything with
``offset``, ``key`` and ``value``) and publishes what comes back. Tests drive it
with plain objects.

Per batch, each actor's state is written once and scored once; the hard limits are
checked after every event, so rule decisions do not depend on where batches split
and a recorded log replays to the same rule decisions.

This file validates and counts; scoring, learning and deciding are
:mod:`stream.core.partition_scoring` (its base class).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

from models import Scorer
from stream.core.actions import Action
from stream.core.actor_state import ActorState
from stream.core.actor_table import ActorTable
from stream.core.batch import BatchResult, Limits, Record
from stream.core.enforcement import active_action
from stream.core.features import StreamContext
from stream.core.incidents import incident_key, sample_path
from stream.core.internal_records import FRESH_MAX_EVENTS, Activity, FeedItem
from stream.core.ledger import LedgerCodec
from stream.core.older_era import ERA_GAP_S, OlderEra
from stream.core.partition_scoring import PartitionScoring
from stream.core.policy import Policy
from stream.core.pseudonym import Pseudonymizer
from stream.core.request_kind import ASSET
from stream.core.scoring import LabelBudget, score_due
from stream.core.validation import Invalid, validate

log = structlog.get_logger(__name__)


# (state, event time, event id, ip, user agent, record) of an actor's newest event in a batch
Touched = tuple[ActorState, float, str, str | None, str, Record]


class PartitionDetector(PartitionScoring):
    """All per-actor state of one input partition; its model and verdicts are
    :class:`~stream.core.partition_scoring.PartitionScoring`."""

    def __init__(
        self,
        topic: str,
        partition: int,
        policy: Policy,
        model: Scorer,
        model_label: str,
        limits: Limits | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import os
        import time

        super().__init__(model, model_label)
        self.topic = topic
        self.partition = partition
        self.policy = policy
        self.ledger: LedgerCodec | None = None  # set to write accesses for the ledger
        # names in reasons and incident keys; the worker sets the one of its pseudonym key
        self.pseudo = Pseudonymizer(os.urandom(32))
        self.watch_profiles_per_hour = 50
        self.record_ts = None
        self.limits = limits or Limits()
        self.clock = clock or time.time
        self.actors = ActorTable(self.limits.hot_actors, self.limits.max_actors)
        self.watermark = 0.0  # newest event time seen in this partition
        # event time of the last event worked, in log order: where the partition is in its
        # backlog (alignment). One event of another era moves the watermark for good; the
        # next event of the backlog brings this back
        self.at_ts = 0.0
        # actors worked while already idle-old for this partition (a replayed old log):
        # kept from :meth:`expire_idle` while their events arrive (stream.core.older_era)
        self.older_era = OlderEra(self.clock, self.limits.idle_grace_s, self.limits.max_actors)
        self.context = StreamContext()
        self.label_budget = LabelBudget(self.limits.labels_per_hour)  # stream.core.side_inputs
        self._policy_sig = id(policy)

    # -- state ------------------------------------------------------------------------
    def restore(self, actor: str, state: ActorState | bytes) -> None:
        """An actor's state from the changelog. Its bytes as read (the worker's restore)
        go to the cold tier undecoded, decoded on the actor's first use; they must pass
        :func:`~stream.core.actor_codec.newest_ts` (else ValueError, nothing kept)."""
        if isinstance(state, bytes):
            last_ts = self.actors.put_encoded(actor, state)
        else:
            self.actors.put(actor, state)
            self.actors.trim()
            last_ts = state.last_ts
        if last_ts > self.watermark:
            self.watermark = self.at_ts = last_ts  # the best guess of where it was

    def restore_all(self, states: Iterable[tuple[str, ActorState | bytes]]) -> None:
        """A partition's actors from the changelog (:meth:`restore` each). Who of them was
        still in use is not known: nothing expires for one grace period."""
        for actor, state in states:
            self.restore(actor, state)
        self.older_era.restored()

    def set_policy(self, policy: Policy) -> None:
        self.policy = policy
        self._policy_sig = id(policy)

    # -- the batch ------------------------------------------------------------------
    def next_ts(self, records: Iterable[Record]) -> float | None:
        """Event time of the first valid record of ``records`` (None: there is none)."""
        now, lim = self.clock(), self.limits
        for rec in records:
            res = validate(
                rec.value,
                now=now,
                max_bytes=lim.max_event_bytes,
                max_future_skew_s=lim.max_future_skew_s,
            )
            if not isinstance(res, Invalid):
                return res.ts
        return None

    def process(self, records: Iterable[Record], until_ts: float | None = None) -> BatchResult:
        """One batch of this partition's records.

        With ``until_ts``, processing stops at the first valid event later than it (its
        offset is ``BatchResult.stopped_at``): the caller reads it again in a later batch, so
        that partitions catching up on a backlog stay together in event time.
        """
        out = BatchResult()
        now = self.clock()
        touched: dict[str, Touched] = {}
        # (actor, ip, minute, is a session) -> [newest ts, profile views, fresh views]
        seen_on: dict[tuple[str, str, int, bool], list[float]] = {}
        for rec in records:
            self.record_ts = getattr(rec, "timestamp", None)
            try:
                if not self._record(rec, now, out, touched, seen_on, until_ts):
                    out.stopped_at = rec.offset
                    break
            except Exception as exc:  # a bug must not stop the partition: dead-letter it
                log.exception("processing_error", partition=self.partition, offset=rec.offset)
                self._dead(out, rec, "processing_error", f"{type(exc).__name__}: {exc}", now)

        self.context.close_batch()
        idle_before = self.watermark - self.limits.actor_idle_ttl_s
        for actor, touch in touched.items():
            out.changed[actor] = touch[0]
            if touch[0].last_ts < idle_before:  # an older era's actor (stream.core.older_era)
                self.older_era.remember(actor, now)
        # the correlator counts accounts that view profiles: activity without views is
        # noise; each with the account's latest score and whether that rests on evidence
        # of its own (the group's evidence as a whole). A session is no account: its
        # views in its first requests (fresh) are a scraper's that drops its cookie on
        # every request when they are most of its address's views
        min_views = self.policy.groups.member_min_profiles_per_hour
        evidence: dict[str, tuple[float, bool]] = {}  # once per actor, not per activity
        out.activities = []
        for (actor, ip, _minute, session), (ts, views, fresh) in seen_on.items():
            if not views:
                continue
            if session:
                if touched[actor][0].allowlisted:
                    continue  # a partner's or a verified crawler's: not the address's doing
                # its first views, then the rest (in time order: the correlator keeps
                # an address's sessions from its first fresh view on)
                for n, new in ((fresh, True), (views - fresh, False)):
                    if n:
                        out.activities.append(
                            Activity(actor, ip, ts, int(n), session=True, fresh=new)
                        )
                continue
            if actor not in evidence:
                state = touched[actor][0]
                evidence[actor] = (state.score, state.counters.profiles_per_hour >= min_views)
            score, evidenced = evidence[actor]
            out.activities.append(Activity(actor, ip, ts, int(views), score, evidenced))
        self.actors.trim()  # after the batch: every state in ``touched`` is done with
        self.collect_evicted(out)
        return out

    def _record(
        self,
        rec: Record,
        now: float,
        out: BatchResult,
        touched: dict[str, Touched],
        seen_on: dict[tuple[str, str, int, bool], list[float]],
        until_ts: float | None = None,
    ) -> bool:
        """One record: validate, count, check the limits (the per-event part of a batch).

        False when the record is later than ``until_ts`` and was left alone."""
        lim = self.limits
        stats = out.stats
        actors = self.actors
        res = validate(
            rec.value,
            now=now,
            max_bytes=lim.max_event_bytes,
            max_future_skew_s=lim.max_future_skew_s,
        )
        if isinstance(res, Invalid):
            self._dead(out, rec, res.reason, res.detail, now)
            return True
        actor = res.actor
        actor_b = actor.encode()
        if rec.key != actor_b:
            # Not keyed by its actor: re-key through Kafka so that all of an actor's
            # events meet in one partition (and one worker).
            out.forwards.append((actor_b, rec.value))  # type: ignore[arg-type]
            stats["forwarded"] += 1
            return True
        if until_ts is not None and until_ts < res.ts <= until_ts + ERA_GAP_S:
            # later than its partition may go now: read again next batch (an event of
            # another era is not held: stream.core.older_era)
            return False
        state = actors.get(actor)
        if state is None:
            state = ActorState()
            actors.put(actor, state)
        elif rec.offset <= state.last_offset:
            stats["redelivered"] += 1  # already counted before a restart
            return True
        elif state.too_late(res.ts):
            self._dead(
                out,
                rec,
                "late_event",
                f"event time {res.ts} is more than a day older than the actor's "
                f"newest event ({state.last_ts})",
                now,
            )
            return True
        kind = state.apply(res, rec.offset)
        kinds = self.context.pending  # requests, assets, requests with a referrer
        kinds[0] += 1
        if kind == ASSET:
            kinds[1] += 1
        if res.referrer is not None:
            kinds[2] += 1
        stats["events"] += 1
        if res.ts > self.watermark:
            self.watermark = res.ts
        self.at_ts = res.ts
        touched[actor] = (state, res.ts, res.event_id, res.ip, res.user_agent, rec)
        if res.ip is not None and (res.account_id is not None or res.session_id is not None):
            # one activity per account (or session: the correlator counts a session's
            # first requests apart), IP and minute of event time: a batch can span hours
            # of event time when a worker catches up on a backlog
            session = res.account_id is None
            bucket = (actor, res.ip, int(res.ts // 60.0), session)
            seen = seen_on.get(bucket)
            view = 1.0 if res.target_profile_id is not None else 0.0
            # a session's view in its first requests is a fresh one, view by view
            fresh = view if session and state.counters.events <= FRESH_MAX_EVENTS else 0.0
            if seen is None:
                seen_on[bucket] = [res.ts, view, fresh]
            else:
                if res.ts > seen[0]:
                    seen[0] = res.ts
                seen[1] += view
                seen[2] += fresh
        policy = self.policy
        allowed = self._allowlisted(state, actor, res.ip, res.user_agent)
        due = score_due(state.counters.events, policy.score_min_events, res.ts, state.next_score_ts)
        if due:  # see stream.core.scoring: per interval of event time, and as events double
            self._score(
                out, state, actor, res.ts, res.event_id, res.ip, res.user_agent, rec, now, due
            )
        if allowed:
            return True
        self.decide(out, state, actor, res.ts, res.event_id, res.ip, res.user_agent)
        target = res.target_profile_id
        if (
            target is not None
            and self.ledger is not None
            and (
                active_action(state, res.ts) != Action.ALLOW
                or state.counters.profiles_per_hour >= self.watch_profiles_per_hour
            )
        ):
            pseudo, sealed = self.ledger.profile(target)
            out.feed.append(
                FeedItem(
                    "access",
                    incident_key(state.group_flag(res.ts), res.ip, actor, self.pseudo),
                    actor,
                    res.ts,
                    ip=res.ip,
                    user_agent=res.user_agent,
                    profile=pseudo,
                    sealed=sealed,
                    fields=res.fields,
                    path=sample_path(res.path, target),
                )
            )
        return True

    def collect_evicted(self, out: BatchResult) -> None:
        """Actors the table's bound evicted: tombstoned in the changelog, and counted."""
        gone = self.actors.take_evicted()
        if gone:
            for actor in gone:
                out.changed.pop(actor, None)
                self.shadow_flags.pop(actor, None)
            out.evicted.extend(gone)
            out.stats["evicted_actors"] += len(gone)
            self.older_era.forget(gone)

    def _allowlisted(self, state: ActorState, actor: str, ip: str | None, ua: str) -> bool:
        sig = hash((self._policy_sig, ip, ua)) & 0xFFFFFFFF
        if sig != state.allow_sig:
            state.allow_sig = sig
            state.allowlisted = self.policy.allowlist.matches(actor, ip, ua)
        return state.allowlisted

    # -- expiry -----------------------------------------------------------------------
    def expire_idle(self) -> list[str]:
        """Drop actors idle for longer than ``actor_idle_ttl_s`` of event time, but not
        while a decision about them is in force (a long manual block, a manual allow), nor
        while their events still arrive: an actor of an older era than its partition (a
        log replayed into a worker at today's time) stays until ``idle_grace_s`` of clock
        time have passed since its last batch."""
        if self.older_era.settling():
            return []
        cutoff = self.watermark - self.limits.actor_idle_ttl_s
        in_use = self.older_era.in_use()
        idle = [a for a, last_ts in self.actors.last_seen() if last_ts < cutoff and a not in in_use]
        gone = []
        for actor in idle:
            state = self.actors.peek(actor)
            if state is None or state.enforcement.holds_until() <= self.watermark:
                gone.append(actor)
        for actor in gone:
            self.actors.pop(actor)
            self.shadow_flags.pop(actor, None)
        self.older_era.forget(gone)
        return gone
