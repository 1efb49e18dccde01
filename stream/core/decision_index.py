"""The decisions in force, indexed the way enforcement asks: by account, by session, by
IP address and by address range — what ``GET /check`` and the bouncer stream answer from.

Fed with every (non-shadow) decision the worker reads from ``decisions``; the newest
decision per actor wins (an ``allow`` lifts what was in force). Lookups are dictionary
hits: one per identity, plus one per range prefix length in use, so ``/check`` costs
microseconds whatever the number of decisions. Bounded: at most ``max_entries`` actors
(the oldest decision is forgotten first, counted in :attr:`evicted`); :meth:`purge`
drops expired entries.

Each entry also has the integer ``id`` a CrowdSec bouncer expects (the first 52 bits of
the decision id, exact in a JSON number) and :attr:`version` counts changes, so the
bouncer stream knows when something changed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from stream.core.actions import Action
from stream.core.actor_ref import ActorRef, parse_actor
from stream.core.records import Decision

Key = tuple[str | None, str, str]  # tenant, scope, value


def bouncer_id(decision_id: str) -> int:
    """A decision's integer id for bouncers: 52 bits of its hash id (exact in a double)."""
    try:
        return int(decision_id[:13], 16)
    except ValueError:
        return int.from_bytes(decision_id.encode()[:6].ljust(6, b"\0"), "big")


@dataclass(slots=True)
class Entry:
    """The decision in force for one actor (or the manual allow that protects it)."""

    ref: ActorRef
    decision: Decision
    action: Action
    until: float  # wall-clock end: of the action, or of a manual allow
    id: int

    def in_force(self, now: float) -> bool:
        return now < self.until

    @property
    def restricts(self) -> bool:
        return self.action != Action.ALLOW


def _ip_int(text: str) -> tuple[int, int] | None:
    """(version, address as an integer), or None when ``text`` is not an address."""
    try:
        if ":" in text:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        return None


def tenants_in_force(scope: str, tenant: str | None) -> tuple[str | None, ...]:
    """The tenants whose decisions about a ``scope`` actor are in force for a request of
    ``tenant``: its own; for an address or range, also those made without a tenant (they
    apply under every tenant: naming a tenant never hides the decision about an address;
    two tenants' account 42 are two people)."""
    return (tenant, None) if tenant is not None and scope in ("ip", "range") else (tenant,)


def applies_under(ref: ActorRef, tenant: str | None) -> bool:
    """Whether a decision about ``ref`` is in force for a request of ``tenant``."""
    return ref.tenant in tenants_in_force(ref.scope, tenant)


class DecisionIndex:
    def __init__(self, max_entries: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        # (tenant, ip version, prefix length) -> network as an integer -> key
        self._nets: dict[tuple[str | None, int, int], dict[int, Key]] = {}
        self.version = 0
        self.evicted = 0
        self.skipped = 0  # decisions about actors that do not parse
        self.tenanted = 0  # decisions put in force about a tenant's actor

    def __len__(self) -> int:
        return len(self._entries)

    # -- feeding -----------------------------------------------------------------------
    def add(self, d: Decision) -> bool:
        """Take ``d`` into account; False when it changes nothing (shadow, older, repeat)."""
        if d.shadow:
            return False
        try:
            ref = parse_actor(d.actor)
        except ValueError:
            self.skipped += 1
            return False
        key: Key = (ref.tenant, ref.scope, ref.value)
        old = self._entries.get(key)
        if old is not None and (
            old.decision.decision_id == d.decision_id or d.ts < old.decision.ts
        ):
            return False  # a re-delivery, or older than what is known
        action = Action.parse(d.action)
        if action == Action.ALLOW and not (d.origin == "manual" and d.ttl_s > 0):
            if old is None:
                return False
            self._remove(key)  # lifted: nothing in force any more
        else:
            self._remove(key)
            self._entries[key] = Entry(ref, d, action, d.expires_at, bouncer_id(d.decision_id))
            if ref.tenant is not None:
                self.tenanted += 1
            if ref.scope == "range":
                net = ipaddress.ip_network(ref.value)
                bucket = self._nets.setdefault((ref.tenant, net.version, net.prefixlen), {})
                bucket[int(net.network_address)] = key
            while len(self._entries) > self.max_entries:
                self._remove(next(iter(self._entries)))
                self.evicted += 1
        self.version += 1
        return True

    def _remove(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None or entry.ref.scope != "range":
            return
        net = ipaddress.ip_network(entry.ref.value)
        nets_key = (entry.ref.tenant, net.version, net.prefixlen)
        bucket = self._nets.get(nets_key)
        if bucket is not None:
            bucket.pop(int(net.network_address), None)
            if not bucket:
                del self._nets[nets_key]

    def purge(self, now: float) -> int:
        """Drop entries no longer in force; how many."""
        gone = [k for k, e in self._entries.items() if not e.in_force(now)]
        for key in gone:
            self._remove(key)
        if gone:
            self.version += 1
        return len(gone)

    # -- questions ---------------------------------------------------------------------
    def get(self, ref: ActorRef) -> Entry | None:
        return self._entries.get((ref.tenant, ref.scope, ref.value))

    def lookup(
        self,
        now: float,
        tenant: str | None,
        account: str | None = None,
        session: str | None = None,
        ip: str | None = None,
    ) -> Entry | None:
        """The strictest decision in force for these identities (the longest of equals);
        a manual allow comes back when nothing restricts (None: no decision at all).

        Which tenants' decisions count: :func:`tenants_in_force`."""
        entries = self._entries
        tenants = tenants_in_force("ip", tenant)
        found: list[Entry] = []
        for scope, value in (("account", account), ("session", session)):
            if value:
                for t in tenants_in_force(scope, tenant):
                    e = entries.get((t, scope, value))
                    if e is not None:
                        found.append(e)
        if ip:
            parsed = _ip_int(ip)
            if parsed is not None:
                version, number = parsed
                text = ip if version == 4 else str(ipaddress.IPv6Address(number))
                for t in tenants:
                    e = entries.get((t, "ip", text))
                    if e is not None:
                        found.append(e)
                bits = 32 if version == 4 else 128
                for (t, v, plen), bucket in self._nets.items():
                    if v != version or t not in tenants:
                        continue
                    k = bucket.get(number >> (bits - plen) << (bits - plen))
                    if k is not None:
                        found.append(entries[k])
        best: Entry | None = None
        for e in found:
            if not e.in_force(now):
                continue
            if best is None or (e.action, e.until) > (best.action, best.until):
                best = e
        return best

    def active(self, now: float) -> Iterator[Entry]:
        """Every restriction (challenge, block) in force at ``now``."""
        for e in self._entries.values():
            if e.restricts and e.in_force(now):
                yield e
