"""Incidents: challenged and blocked actors that belong together, and whose data they took.

The detector sends two kinds of *feed items*, keyed by an **incident key** — the
correlation group when the actor was flagged as part of one (``ip:…``/``subnet:…`` from
the correlator), else the /24 (IPv6 /64) of the actor's address:

* ``decision`` — a challenge or block (not shadow);
* ``access`` — a profile view by an actor that is flagged or *watched* (busy enough to
  be on its way there), with the profile as a pseudonym (and sealed copy).

:class:`IncidentBook` opens an incident on the first decision of a key, adds the
accesses buffered before it (so views made before detection are counted too), grows it
with every later item, and closes it after ``quiet_s`` of event time without one. It
returns incident updates and new ledger entries; it never sees a raw profile id.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from stream.core.correlation import subnet_of
from stream.core.internal_records import FeedItem
from stream.core.ledger import DistinctCount
from stream.core.pseudonym import Pseudonymizer
from stream.core.records import in_time_range

CONTACT_FIELDS = frozenset({"email", "phone", "address", "birthdate", "date_of_birth"})
MAX_ACTORS = 1000
MAX_DECISIONS = 200
# operators' decisions (an appeal upheld, a manual block) are kept past MAX_DECISIONS, up
# to this many more: an incident's record must show the appeal next to the block it lifted
MAX_MANUAL_DECISIONS = 50
MAX_USER_AGENTS = 100
MAX_FIELDS = 256
PENDING_MAX = 5000  # items buffered per key before an incident opens
PENDING_KEYS_MAX = 10_000  # keys with buffered items; the least recently active go first
MAX_OPEN = 10_000  # open incidents per partition; beyond it the least recently active close
PENDING_S = 3600.0

log = structlog.get_logger(__name__)


def incident_key(group_reason: str, ip: str | None, actor: str, pseudo: Pseudonymizer) -> str:
    """The correlation group named in a group reason, else the subnet, else the actor —
    never a raw identifier: an IPv4 /24 as it is, anything narrower as a pseudonym."""
    if group_reason and group_reason.endswith(")") and "(" in group_reason:
        metric = group_reason.split(" ", 1)[0]
        where = group_reason.rsplit("(", 1)[1][:-1]  # already a pseudonym or a range
        return ("ip:" if metric == "accounts_per_ip" else "subnet:") + where
    if ip:
        try:
            return "subnet:" + pseudo.subnet(subnet_of(ip))
        except ValueError:
            pass
    return "actor:" + pseudo.actor(actor)


# what a route's own words look like (profiles, api, v2, about); anything else in a path
# may name someone: a slug (jane-doe), an e-mail, an id, an escaped name (j%C3%BCrgen)
_ROUTE_WORD = re.compile(r"^(?:[a-z]{1,24}|v\d{1,2})$")


def sample_path(path: str, target: str | None) -> str:
    """The path of an access as evidence, without whose profile it was: the query is
    dropped, the profile id becomes ``{profile}``, and every segment but a route's
    placeholders and plain lower-case words becomes ``{id}``. A name written as one
    lower-case word (``/u/janedoe``) cannot be told from a route's word and stays."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    parts = []
    for seg in path.split("/"):
        if target and seg == target:
            parts.append("{profile}")
        elif not seg or (seg.startswith("{") and seg.endswith("}")) or _ROUTE_WORD.match(seg):
            parts.append(seg)
        else:
            parts.append("{id}")
    return "/".join(parts)[:200]


@dataclass
class Incident:
    id: str
    key: str
    opened_at: float
    last_at: float
    status: str = "open"
    actors: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    profiles: DistinctCount = field(default_factory=DistinctCount)
    fields: set[str] = field(default_factory=set)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    first_requests: list[dict[str, Any]] = field(default_factory=list)
    last_requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5))
    user_agents: set[str] = field(default_factory=set)
    version: int = 0

    @property
    def severity(self) -> str:
        n = len(self.profiles)
        contact = bool(self.fields & CONTACT_FIELDS)
        if n >= 10_000 or (contact and n >= 1000):
            return "critical"
        if n >= 1000 or (contact and n >= 100):
            return "high"
        if n >= 100 or contact:
            return "medium"
        return "low"

    def summary(self) -> dict[str, Any]:
        return {
            "incident_id": self.id,
            "key": self.key,
            "status": self.status,
            "opened_at": self.opened_at,
            "last_activity_at": self.last_at,
            "severity": self.severity,
            "actors": sorted(self.actors),
            "actor_count": len(self.actors),
            "requests": self.requests,
            "affected_profiles": len(self.profiles),
            "affected_profiles_exact": self.profiles.exact_count,
            "fields_exposed": sorted(self.fields),
            "decisions": self.decisions,
            "first_requests": self.first_requests,
            "last_requests": list(self.last_requests),
            "user_agents": sorted(self.user_agents)[:20],
            "version": self.version,
        }

    def encode(self) -> bytes:
        body = self.summary()
        body["profile_set"] = (
            sorted(self.profiles.exact) if self.profiles.exact is not None else None
        )
        body["actor_detail"] = self.actors
        return orjson.dumps(body)

    @classmethod
    def decode(cls, raw: bytes) -> Incident:
        """Inverse of :meth:`encode`; total: ValueError for anything else (a compacted
        changelog can hold any bytes someone wrote)."""
        try:
            inc = cls._decode(raw)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            raise ValueError(f"malformed incident state: {type(exc).__name__}: {exc}") from None
        return inc

    @classmethod
    def _decode(cls, raw: bytes) -> Incident:
        d = orjson.loads(raw)
        if not isinstance(d, dict):
            raise TypeError("not a JSON object")
        if d["status"] not in ("open", "closed") or not isinstance(d["key"], str):
            raise ValueError("bad status or key")
        if not isinstance(d["incident_id"], str):
            raise TypeError("incident_id must be a string")
        inc = cls(
            d["incident_id"],
            d["key"],
            in_time_range(float(d["opened_at"]), "opened_at"),
            in_time_range(float(d["last_activity_at"]), "last_activity_at"),
            status=d["status"],
            requests=_count(d["requests"]),
            fields=set(d["fields_exposed"]),
            decisions=_dicts(d["decisions"]),
            first_requests=_dicts(d["first_requests"]),
            user_agents=set(d.get("user_agents", [])),
            version=_count(d["version"]),
        )
        actors = d.get("actor_detail") or {a: {} for a in d["actors"]}
        if not isinstance(actors, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in actors.items()
        ):
            raise TypeError("actors must map names to objects")
        inc.actors = dict(list(actors.items())[:MAX_ACTORS])
        inc.last_requests.extend(_dicts(d["last_requests"]))
        for p in d.get("profile_set") or []:
            if not isinstance(p, str):
                raise TypeError("profiles must be strings")
            inc.profiles.add(p)
        if not all(isinstance(f, str) for f in inc.fields):
            raise TypeError("fields must be strings")
        inc.user_agents = {u for u in inc.user_agents if isinstance(u, str)}
        inc.decisions = inc.decisions[: MAX_DECISIONS + MAX_MANUAL_DECISIONS]
        inc.first_requests = inc.first_requests[:5]
        return inc


def _manual(reasons: list[str] | None) -> bool:
    """An operator's decision: its reason is ``manual: …``, ``manual_delete: …`` or
    ``manual_allow: …`` (stream.core.enforcement.apply_manual)."""
    return reasons is not None and len(reasons) > 0 and reasons[0].startswith("manual")


def _count(value: Any) -> int:
    """A count read back: an integer of JSON's safe range (one past 64 bits would not
    encode again, and the incidents agent would stop on it after every restore)."""
    n = int(value)
    if not 0 <= n < 2**53:
        raise ValueError(f"count out of range: {n}")
    return n


def _dicts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError("expected a list of objects")
    return list(value)


def _incident_id(key: str, ts: float) -> str:
    return "inc-" + hashlib.blake2b(f"{key}\x00{ts}".encode(), digest_size=6).hexdigest()


class IncidentBook:
    """Open incidents of one feed partition."""

    def __init__(self, quiet_s: float = 3600.0, pseudonymize: Any = None) -> None:
        self.quiet_s = quiet_s
        self.pseudo = pseudonymize or (lambda actor: actor)
        self.open: OrderedDict[str, Incident] = OrderedDict()  # least recently active first
        self.pending: OrderedDict[str, deque[FeedItem]] = OrderedDict()
        self.watermark = 0.0
        self.evictions: Counter[str] = Counter()  # what the bounds dropped, by kind
        self.skipped = 0  # items that tripped an error: skipped, never a stop

    def process(self, items: list[FeedItem]) -> tuple[list[Incident], list[tuple[str, FeedItem]]]:
        changed: dict[str, Incident] = {}
        ledger: list[tuple[str, FeedItem]] = []
        for it in items:
            try:
                self._one(it, changed, ledger)
            except Exception as exc:  # one bad record must never stop the partition
                self.skipped += 1
                log.warning("feed_item_skipped", error=f"{type(exc).__name__}: {exc}")
        for inc in self._close_over_bound():
            changed[inc.id] = inc
        for inc in changed.values():
            inc.version += 1
        return list(changed.values()), ledger

    def _one(
        self, it: FeedItem, changed: dict[str, Incident], ledger: list[tuple[str, FeedItem]]
    ) -> None:
        if it.ts > self.watermark:
            self.watermark = it.ts
        inc = self.open.get(it.key)
        if inc is None:
            if it.kind == "decision" and it.action == "allow":
                return  # a lifted decision (appeal) is recorded where one is open
            if it.kind != "decision":
                self._buffer(it)
                return
            first = min([it.ts] + [p.ts for p in self.pending.get(it.key, ())])
            inc = self.open[it.key] = Incident(_incident_id(it.key, it.ts), it.key, first, it.ts)
            for earlier in self.pending.pop(it.key, ()):
                if earlier.ts >= it.ts - PENDING_S:
                    self._add(inc, earlier, ledger)
        else:
            self.open.move_to_end(it.key)
        self._add(inc, it, ledger)
        changed[inc.id] = inc

    def _buffer(self, it: FeedItem) -> None:
        buf = self.pending.get(it.key)
        if buf is None:
            buf = self.pending[it.key] = deque(maxlen=PENDING_MAX)
            while len(self.pending) > PENDING_KEYS_MAX:
                self.pending.popitem(last=False)
                self.evictions["incident_pending_key"] += 1
        else:
            self.pending.move_to_end(it.key)
            if len(buf) == PENDING_MAX:
                self.evictions["incident_pending_item"] += 1
        buf.append(it)

    def _close_over_bound(self) -> list[Incident]:
        """Beyond ``MAX_OPEN``, the least recently active incidents close early."""
        closed = []
        while len(self.open) > MAX_OPEN:
            _key, inc = self.open.popitem(last=False)
            inc.status = "closed"
            closed.append(inc)
            self.evictions["open_incident"] += 1
        return closed

    def _add(self, inc: Incident, it: FeedItem, ledger: list[tuple[str, FeedItem]]) -> None:
        inc.last_at = max(inc.last_at, it.ts)
        inc.opened_at = min(inc.opened_at, it.ts)
        who = self.pseudo(it.actor)
        info = inc.actors.get(who)
        if info is None and len(inc.actors) < MAX_ACTORS:
            info = inc.actors[who] = {"first": it.ts, "last": it.ts, "action": "allow"}
        if info is not None:
            info["last"] = max(info["last"], it.ts)
        if it.user_agent:
            ua = it.user_agent[:120]
            if ua not in inc.user_agents:
                if len(inc.user_agents) < MAX_USER_AGENTS:
                    inc.user_agents.add(ua)
                else:
                    self.evictions["incident_user_agent"] += 1
        if it.kind == "decision":
            if info is not None:
                info["action"] = it.action
            kept = len(inc.decisions)
            if kept < MAX_DECISIONS or (
                kept < MAX_DECISIONS + MAX_MANUAL_DECISIONS and _manual(it.reasons)
            ):
                inc.decisions.append(
                    {
                        "ts": it.ts,
                        "actor": who,
                        "action": it.action,
                        "reasons": it.reasons or [],
                        "decision_id": it.decision_id,
                    }
                )
            else:
                self.evictions["incident_decision"] += 1
            return
        inc.requests += 1
        for f in it.fields or ():
            if f not in inc.fields:
                if len(inc.fields) < MAX_FIELDS:
                    inc.fields.add(f)
                else:
                    self.evictions["incident_field"] += 1
        sample = {
            "ts": it.ts,
            "actor": who,
            "path": it.path,
            "profile": it.profile,
            "fields": it.fields or [],
        }
        if len(inc.first_requests) < 5:
            inc.first_requests.append(sample)
        inc.last_requests.append(sample)
        if it.profile and inc.profiles.add(it.profile):
            ledger.append((inc.id, it))

    def close_idle(self) -> list[Incident]:
        """Incidents without activity for ``quiet_s`` of event time; pending buffers age out."""
        cutoff = self.watermark - self.quiet_s
        closed = [inc for inc in self.open.values() if inc.last_at < cutoff]
        for inc in closed:
            del self.open[inc.key]
            inc.status = "closed"
            inc.version += 1
        for key in [k for k, buf in self.pending.items() if buf and buf[-1].ts < cutoff]:
            del self.pending[key]
        return closed
