"""Records between scrapeguard's own agents, and their codecs (total decoders, like every
decoder of :mod:`stream.core.records`):

* :class:`Activity` (detector → correlator, ``<app>-ip-activity``),
* :class:`GroupSignal` (correlator → detector, ``<app>-group-signals``),
* :class:`FeedItem` (detector → incidents, ``<app>-incident-feed``),
* :class:`LedgerEntry` (``<app>-ledger``) and the incident summary (``incidents``),
* :class:`Member` (worker → every worker, ``<app>-members``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import orjson

from stream.core.records import (
    in_expiry_range,
    int_of,
    json_object,
    number_of,
    text_of,
    time_of,
)


@dataclass(slots=True)
class Activity:
    """One account on one IP during one detector batch (detector → correlator), with the
    account's latest model score (0 before its first) and whether that score rests on
    evidence of its own (``evidenced``: ``[groups] member_min_profiles_per_hour`` profile
    views in the hour). A record written before these were carried reads as 0, without.

    ``session``: the actor is not an account but a session, no account of the address's
    groups; its views count towards the address's ``new_session_views_per_ip`` while it is
    ``fresh`` (in its first requests: :data:`FRESH_MAX_EVENTS`), and later against it."""

    actor: str
    ip: str
    ts: float
    views: int
    score: float = 0.0
    evidenced: bool = False
    session: bool = False
    fresh: bool = False

    def encode(self) -> bytes:
        d = {
            "a": self.actor,
            "i": self.ip,
            "t": self.ts,
            "v": self.views,
            "s": self.score,
            "e": self.evidenced,
        }
        if self.session:
            d["n"] = True
            d["f"] = self.fresh
        return orjson.dumps(d)

    @classmethod
    def decode(cls, raw: bytes | None) -> Activity:
        return cls.from_doc(json_object(raw, "activity"))

    @classmethod
    def from_doc(cls, d: Any) -> Activity:
        """An activity from its JSON document (an item of a pack: stream.kafka.packs)."""
        what = "activity"
        if not isinstance(d, dict):
            raise ValueError(f"{what}: not a JSON object")
        act = cls(
            text_of(d, "a", what),
            text_of(d, "i", what),
            time_of(d, "t", what),  # it moves the correlator's watermark
            int_of(d, "v", what),
            number_of(d, "s", what, 0.0),
        )
        evidenced = d.get("e", False)
        if not isinstance(evidenced, bool):
            raise ValueError(f"{what}: e must be true or false")
        act.evidenced = evidenced
        session, fresh = d.get("n", False), d.get("f", False)
        if not (isinstance(session, bool) and isinstance(fresh, bool)):
            raise ValueError(f"{what}: n and f must be true or false")
        if fresh and not session:
            raise ValueError(f"{what}: only a session is fresh")
        act.session, act.fresh = session, fresh
        if not 0 <= act.views < 2**31:
            raise ValueError(f"{what}: v must be a count of profile views")
        if not 0.0 <= act.score <= 1.0:
            raise ValueError(f"{what}: s must be a score in [0, 1]")
        return act


# the correlator's groups: the accounts of one address, and of one /24 (or IPv6 /64)
ADDRESS_METRIC, SUBNET_METRIC = "accounts_per_ip", "accounts_per_subnet"
# profile views of sessions in their first requests, from one address (an IPv6 /64):
# a logged-out scraper that drops its cookie on every request (signalled to the address)
NEW_SESSIONS_METRIC = "new_session_views_per_ip"
GROUP_METRICS = (ADDRESS_METRIC, SUBNET_METRIC, NEW_SESSIONS_METRIC)
# a session's view is fresh when the session has made at most this many requests with
# it (judged view by view, so that where batches split changes nothing). Not by age: a
# person opening profiles in tabs makes many views in a few seconds, and a scraper can
# age a cookie before it uses it (third review)
FRESH_MAX_EVENTS = 3


def group_share(high: int, evidenced: int, threshold: int) -> float:
    """The share of a group's accounts that score high, in [0, 1]: ``high`` of the
    ``evidenced`` accounts (those with evidence of their own), counted against at least
    the group's limit (``threshold`` + 1 accounts), so that a flagged office where one or
    two busy people have evidence is not "mostly high" by them alone."""
    return min(1.0, high / max(evidenced, threshold + 1))  # a threshold is never negative


@dataclass(slots=True)
class GroupSignal:
    """An account belongs to a group that passed a ``[groups]`` limit (correlator → detector);
    or, for ``new_session_views_per_ip``, the address (``ip:…``, an IPv6 ``range:…/64``)
    whose new sessions passed it is the actor.

    ``high``: how many of the group's accounts with evidence of their own (``evidenced``)
    score ``[groups] member_min_score`` or more: the evidence of the group as a whole (0
    in a signal written before it was carried)."""

    actor: str
    group: str
    metric: str
    value: int
    threshold: int
    ts: float
    expires_at: float
    high: int = 0
    evidenced: int = 0

    @property
    def high_share(self) -> float:
        """The share of the group's accounts that score high (:func:`group_share`)."""
        return group_share(self.high, self.evidenced, self.threshold)

    def reason_naming(self, where: str) -> str:
        """The decision reason; ``where`` names the group — a pseudonym or a range, never
        a raw address (:meth:`stream.core.pseudonym.Pseudonymizer.where`)."""
        return f"{self.metric} {self.value} > {self.threshold} ({where})"

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "actor": self.actor,
                "group": self.group,
                "metric": self.metric,
                "value": self.value,
                "threshold": self.threshold,
                "ts": self.ts,
                "expires_at": self.expires_at,
                "high": self.high,
                "evidenced": self.evidenced,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> GroupSignal:
        what = "group signal"
        d = json_object(raw, what)
        sig = cls(
            text_of(d, "actor", what),
            text_of(d, "group", what),
            text_of(d, "metric", what),
            int_of(d, "value", what),
            int_of(d, "threshold", what),
            time_of(d, "ts", what),
            in_expiry_range(number_of(d, "expires_at", what), f"{what}: expires_at"),
            int_of(d, "high", what) if "high" in d else 0,
            int_of(d, "evidenced", what) if "evidenced" in d else 0,
        )
        if not sig.ts < sig.expires_at:
            raise ValueError(f"{what}: expires_at must be after ts")
        if sig.metric not in GROUP_METRICS:
            raise ValueError(f"{what}: metric must be one of {', '.join(GROUP_METRICS)}")
        if not (0 <= sig.high < 2**31 and 0 <= sig.evidenced < 2**31):
            raise ValueError(f"{what}: high and evidenced must be counts of accounts")
        if not 0 <= sig.threshold < 2**31:
            raise ValueError(f"{what}: threshold must be a count of accounts")
        return sig


@dataclass(slots=True)
class FeedItem:
    """Detector → incidents: a decision, or an access by a flagged or watched actor."""

    kind: str  # decision | access
    key: str  # the incident key
    actor: str
    ts: float
    ip: str | None = None
    user_agent: str = ""
    profile: str | None = None  # pseudonym
    sealed: str | None = None  # encrypted profile id, when a ledger key is set
    fields: list[str] | None = None
    path: str = ""
    action: str = ""
    reasons: list[str] | None = None
    decision_id: str = ""

    def encode(self) -> bytes:
        return orjson.dumps(
            {k: getattr(self, k) for k in _FEED_KEYS if getattr(self, k) not in (None, "")}
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> FeedItem:
        return cls.from_doc(json_object(raw, "feed item"))

    @classmethod
    def from_doc(cls, d: Any) -> FeedItem:
        """A feed item from its JSON document (an item of a pack: stream.kafka.packs)."""
        what = "feed item"
        if not isinstance(d, dict):
            raise ValueError(f"{what}: not a JSON object")
        kind = d.get("kind")
        if kind not in ("decision", "access"):
            raise ValueError(f"{what}: kind must be decision or access")
        item = cls(kind, text_of(d, "key", what), text_of(d, "actor", what), time_of(d, "ts", what))
        for f in fields(cls):
            if f.name in ("kind", "key", "actor", "ts") or f.name not in d:
                continue
            value = d[f.name]
            if f.name in ("fields", "reasons"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{what}: {f.name} must be a list of strings")
            elif not isinstance(value, str):
                raise ValueError(f"{what}: {f.name} must be a string")
            setattr(item, f.name, value)
        return item


# the fields in order (compiled, a dataclass has no __slots__ to read them from)
_FEED_KEYS: tuple[str, ...] = tuple(f.name for f in fields(FeedItem))


@dataclass(slots=True)
class LedgerEntry:
    """One affected person of an incident (``<app>-ledger``, key = incident id)."""

    incident_id: str
    profile: str  # pseudonym
    sealed: str | None  # the profile id sealed with the ledger key
    fields: list[str]
    ts: float
    actor: str  # pseudonym of the actor that took it

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "incident_id": self.incident_id,
                "profile": self.profile,
                "sealed": self.sealed,
                "fields": self.fields,
                "ts": self.ts,
                "actor": self.actor,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> LedgerEntry:
        what = "ledger entry"
        d = json_object(raw, what)
        sealed = d.get("sealed")
        flds = d.get("fields") or []
        if not isinstance(flds, list) or not all(isinstance(f, str) for f in flds):
            raise ValueError(f"{what}: fields must be a list of strings")
        return cls(
            text_of(d, "incident_id", what),
            text_of(d, "profile", what),
            sealed if isinstance(sealed, str) else None,
            list(flds),
            number_of(d, "ts", what),
            str(d.get("actor", "")),
        )


def encode_incident(summary: dict[str, Any]) -> bytes:
    """An incident summary as published on ``incidents`` (see :meth:`Incident.summary`)."""
    return orjson.dumps(summary)


def decode_incident(raw: bytes | None) -> dict[str, Any]:
    """An incident summary from ``incidents``: a JSON object with at least its id, status,
    version and times."""
    what = "incident"
    d = json_object(raw, what)
    text_of(d, "incident_id", what)
    if d.get("status") not in ("open", "closed"):
        raise ValueError(f"{what}: status must be open or closed")
    int_of(d, "version", what)
    number_of(d, "opened_at", what)
    number_of(d, "last_activity_at", what)
    return d


@dataclass(slots=True)
class Member:
    """A worker's announcement: its URL and the detector partitions it owns, signed
    (``sig``, :mod:`stream.core.peers`)."""

    worker: str
    url: str
    ts: float
    partitions: list[int]
    sig: str = ""

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "worker": self.worker,
                "url": self.url,
                "ts": self.ts,
                "partitions": self.partitions,
                "sig": self.sig,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> Member:
        what = "member"
        d = json_object(raw, what)
        parts = d.get("partitions")
        if not isinstance(parts, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in parts
        ):
            raise ValueError(f"{what}: partitions must be a list of integers")
        sig = d.get("sig", "")
        return cls(
            text_of(d, "worker", what),
            text_of(d, "url", what),
            number_of(d, "ts", what),
            parts,
            sig if isinstance(sig, str) else "",
        )
