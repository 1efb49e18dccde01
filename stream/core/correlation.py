"""Cross-actor correlation: accounts per IP and per subnet, in event time (pure).

The detector reports, once per batch, which account was seen on which IP with how
many profile views (:class:`Activity`, keyed by subnet so a subnet and its IPs meet in
one partition). :class:`GroupCorrelator` keeps, per IP and per /24 (an IPv6 address's
group is its /64, and it has no wider one), the
distinct accounts and the profile views of the last hour, and when a group passes the
policy's ``[groups]`` limits it emits a :class:`GroupSignal` for every account of the
group. Signals are keyed by actor (the account; for ``new_session_views_per_ip`` the
address), so they reach the detector partition that owns that actor's state, where
policy turns them into challenges.

Each activity carries its account's latest score and whether that rests on evidence of
its own, so a signal also says how many of the group's evidenced accounts score ``[groups]
member_min_score`` or more: the group's own evidence. A farm's accounts all score high, an
office's few do (``member_share_alone``). When the group turns "mostly high" or back, every
account of the group whose signal is in force is signalled again (at most once per
:data:`TURN_MIN_S` of event time, so a group at the line does not flood the detector).
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import lru_cache

import structlog

from stream.core.actor_ref import ActorRef, parse_actor
from stream.core.group_state import MAX_RECENT, GroupState, SessionGroup
from stream.core.internal_records import (
    ADDRESS_METRIC,
    NEW_SESSIONS_METRIC,
    SUBNET_METRIC,
    Activity,
    GroupSignal,
    group_share,
)
from stream.core.older_era import OlderEra
from stream.core.policy import GroupLimit, Policy

GROUP_IDLE_S = 2 * 3600.0
MAX_GROUPS = 50_000  # per partition: IPs and subnets; the least recently active go first
# per partition: addresses' logged-out sessions, per tenant, in a table of their own (a
# flood of logged-out visitors must not push a flagged farm's group out)
MAX_SESSION_GROUPS = 50_000
SESSIONS = "sessions:"  # the key of an address's sessions: "sessions:" + the address's actor
TURN_MIN_S = 300.0  # event time between two turns of a group's evidence
# new sessions' views must be at least this share of an address's views in the hour: an
# address whose people keep their cookies (or log in) is not judged by its newcomers
NEW_SESSIONS_SHARE = 0.5

log = structlog.get_logger(__name__)


@lru_cache(maxsize=65536)
def subnet_of(ip: str) -> str:
    """``203.0.113.7`` → ``203.0.113.0/24``; IPv6 → its /64."""
    addr = ipaddress.ip_address(ip)
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def address_group(ip: str, subnet: str) -> str:
    """The key of an address's account group: ``ip:ADDRESS``, an IPv6 one's /64 (a host
    picks addresses of it at will; ``subnet`` is :func:`subnet_of` ``ip``)."""
    return "ip:" + (subnet if ":" in ip else ip)


def address_actor(activity_actor: str, ip: str) -> str:
    """The actor that stands for ``ip`` under the activity's tenant: ``ip:ADDRESS``, or
    for IPv6 ``range:…/64`` (one host's or household's block: it picks a new address in
    it at will)."""
    tenant = parse_actor(activity_actor).tenant
    if ":" in ip:
        return ActorRef(tenant, "range", subnet_of(ip)).key
    return ActorRef(tenant, "ip", ip).key


class GroupCorrelator:
    """All groups of one activity partition: at most ``max_groups`` of them, and at most
    ``max_session_groups`` addresses' logged-out sessions apart."""

    def __init__(
        self,
        policy: Policy,
        max_groups: int = MAX_GROUPS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.max_groups = max_groups
        # groups worked while already idle-old (a replayed old log): kept from
        # :meth:`expire_idle` while their activity arrives (stream.core.older_era)
        self.older_era = OlderEra(clock, max_keys=max_groups)
        # least recently active first: a group moves to the end when it is touched
        self.groups: OrderedDict[str, GroupState] = OrderedDict()
        self.session_groups: OrderedDict[str, SessionGroup] = OrderedDict()  # keys SESSIONS…
        self.max_session_groups = MAX_SESSION_GROUPS
        self.watermark = 0.0
        self._evicted: list[str] = []
        self.skipped = 0  # activities that tripped an error: skipped, never a stop

    def process(self, activities: list[Activity]) -> tuple[list[GroupSignal], set[str]]:
        signals: list[GroupSignal] = []
        changed: set[str] = set()
        for act in activities:
            try:
                self._one(act, signals, changed)
            except Exception as exc:  # one bad record must never stop the partition
                self.skipped += 1
                log.warning("activity_skipped", error=f"{type(exc).__name__}: {exc}")
        gone = self.bound()
        for key in gone:
            changed.discard(key)
        self.older_era.forget(gone)
        idle_before = self.watermark - GROUP_IDLE_S
        older = [key for key in changed if self.state(key).last_ts < idle_before]
        if older:  # an older era's groups (stream.core.older_era)
            now = self.older_era.clock()
            for key in older:
                self.older_era.remember(key, now)
        return signals, changed

    def state(self, key: str) -> GroupState | SessionGroup:
        """The group of ``key``, whichever table holds it (KeyError when none does)."""
        return self.session_groups[key] if key.startswith(SESSIONS) else self.groups[key]

    def restore(self, records: Iterable[tuple[str, bytes]]) -> int:
        """The partition's groups from their changelog records (key, bytes), each read as
        its key says: an address's sessions (keyed SESSIONS…, also when a version before
        wrote them as a whole group) or a group of accounts. Returns how many did not
        read (each logged and left out)."""
        groups: list[tuple[str, GroupState]] = []
        sessions: list[tuple[str, SessionGroup]] = []
        unreadable = 0
        for key, raw in records:
            try:
                if key.startswith(SESSIONS):
                    sessions.append((key, SessionGroup.decode(raw)))
                else:
                    groups.append((key, GroupState.decode(raw)))
            except ValueError as exc:
                unreadable += 1
                log.warning("group_state_skipped", error=str(exc))  # quoted parts pseudonymised
        # least recently active first, as the bound evicts
        self.groups.update(sorted(groups, key=lambda kv: kv[1].last_ts))
        self.session_groups.update(sorted(sessions, key=lambda kv: kv[1].last_ts))
        self.bound()
        stamps = [g.last_ts for g in self.groups.values()]
        stamps += [g.last_ts for g in self.session_groups.values()]
        self.watermark = max(stamps, default=0.0)
        if stamps:
            self.older_era.restored()
        return unreadable

    def _one(self, act: Activity, signals: list[GroupSignal], changed: set[str]) -> None:
        groups = self.policy.groups
        if act.ts > self.watermark:
            self.watermark = act.ts
        try:
            subnet = subnet_of(act.ip)
        except ValueError:
            return  # the detector only forwards validated addresses
        if act.session:
            self._session(act, subnet, signals, changed)
            return
        v6 = ":" in act.ip
        for key, metric, limit in (
            # an IPv6 host picks a new address of its /64 at will: the /64 is its address
            (address_group(act.ip, subnet), ADDRESS_METRIC, groups.accounts_per_ip),
            ("subnet:" + subnet, SUBNET_METRIC, groups.accounts_per_subnet),
        ):
            if limit is None or (v6 and metric == SUBNET_METRIC):
                continue  # off; or an IPv6 /64, which is the address's group already
            g = self.groups.get(key)
            if g is None:
                g = self.groups[key] = GroupState()
            else:
                self.groups.move_to_end(key)
            g.add(act)
            changed.add(key)
            self._check(g, key, metric, limit, act, signals)

    def _session(
        self, act: Activity, subnet: str, out: list[GroupSignal], changed: set[str]
    ) -> None:
        """A session's views on its address (IPv6: its /64), under its tenant. Past
        ``[groups] new_session_views_per_ip`` views of new sessions in the hour, while
        they are most of the address's views (its sessions' and its accounts'), a signal
        to the address itself: at once, when it newly asks for a block, and again when
        the decision it made is due for renewal (``[ttl] renew_before_s``)."""
        policy = self.policy
        limit = policy.groups.new_session_views_per_ip
        if limit is None:
            return
        actor = address_actor(act.actor, act.ip)
        key = SESSIONS + actor
        g = self.session_groups.get(key)
        if g is None:
            if not act.fresh:
                return  # no new session seen here lately: nothing to weigh them against
            g = self.session_groups[key] = SessionGroup()
        else:
            self.session_groups.move_to_end(key)
        g.add_session(act)
        changed.add(key)
        if not act.fresh:
            return
        n = g.fresh_views_per_hour
        block = limit.block is not None and n > limit.block
        if not (block or (limit.challenge is not None and n > limit.challenge)):
            return
        accounts = self.groups.get(address_group(act.ip, subnet))
        views = g.session_views_per_hour + (accounts.views_per_hour if accounts else 0)
        if n < NEW_SESSIONS_SHARE * views:
            return  # most of the address's views are of people who keep their sessions
        if g.fresh_until - act.ts > policy.renew_before_s and not (block and not g.fresh_block):
            return  # its decision is in force for a while yet, and not newly a block
        ttl = policy.ttl_block_s if block else policy.ttl_challenge_s
        g.fresh_until, g.fresh_block = act.ts + ttl, block
        threshold = limit.block if block else limit.challenge
        assert threshold is not None
        out.append(
            GroupSignal(actor, key, NEW_SESSIONS_METRIC, n, int(threshold), act.ts, act.ts + ttl)
        )

    def bound(self) -> list[str]:
        """Evict the least recently active groups beyond ``max_groups``, and addresses'
        sessions beyond ``max_session_groups``; their keys."""
        gone = []
        while len(self.groups) > self.max_groups:
            key, _ = self.groups.popitem(last=False)
            gone.append(key)
        while len(self.session_groups) > self.max_session_groups:
            key, _ = self.session_groups.popitem(last=False)
            gone.append(key)
        self._evicted.extend(gone)
        return gone

    def take_evicted(self) -> list[str]:
        """Groups evicted by the bound since the last call (to tombstone and count)."""
        out, self._evicted = self._evicted, []
        return out

    def _check(
        self,
        g: GroupState,
        key: str,
        metric: str,
        limit: GroupLimit,
        act: Activity,
        out: list[GroupSignal],
    ) -> None:
        n = g.accounts_per_hour
        if not (n > limit.challenge and g.views_per_hour > limit.min_profile_views_per_hour):
            g.flagged = False  # what its members were told stands (their signals do)
            return
        groups = self.policy.groups
        ttl = groups.signal_ttl_s
        high, evidenced = g.evidence(groups.member_min_score, act.ts - 3600)
        mostly_high = groups.mostly_high(group_share(high, evidenced, limit.challenge))
        crossing = not g.flagged
        g.flagged = True
        # the group's evidence turned (on a crossing too), not sooner than TURN_MIN_S
        # after the last turn; until it may, every signal says what the last one did
        told_high, told_evidenced = g.told
        agrees = mostly_high == groups.mostly_high(
            group_share(told_high, told_evidenced, limit.challenge)
        )
        turned = not agrees and act.ts - g.turned_ts >= TURN_MIN_S
        if turned:
            g.turned_ts = act.ts
        if agrees or turned:
            g.told = told_high, told_evidenced = high, evidenced

        def signal(actor: str, expires_at: float) -> None:
            g.signalled[actor] = expires_at
            out.append(
                GroupSignal(
                    actor,
                    key,
                    metric,
                    n,
                    limit.challenge,
                    act.ts,
                    expires_at,
                    told_high,
                    told_evidenced,
                )
            )

        # on a crossing or a turn every account seen in the last hour, else the one at
        # hand; each when its signal is due (all of them on a turn)
        since = act.ts - 3600
        if crossing or turned:
            members = [actor for actor, seen in g.recent.items() if seen > since]
        else:
            members = [act.actor]
        for actor in members:
            if turned or g.signalled.get(actor, 0.0) - act.ts <= ttl / 2:
                signal(actor, act.ts + ttl)
        if turned:  # and those not seen since whose signal is still in force, as it is
            for actor, expires_at in list(g.signalled.items()):
                if expires_at > act.ts and g.recent.get(actor, 0.0) <= since:
                    signal(actor, expires_at)
        if len(g.signalled) > MAX_RECENT:
            for actor in sorted(g.signalled, key=g.signalled.__getitem__)[:-MAX_RECENT]:
                del g.signalled[actor]

    def expire_idle(self) -> list[str]:
        if self.older_era.settling():
            return []
        cutoff = self.watermark - GROUP_IDLE_S
        in_use = self.older_era.in_use()
        gone = []
        for table in (self.groups, self.session_groups):
            idle = [k for k, g in table.items() if g.last_ts < cutoff and k not in in_use]
            for key in idle:
                del table[key]
            gone += idle
        self.older_era.forget(gone)
        return gone
