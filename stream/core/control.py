"""Model lifecycle through the control topic: signed messages and the slot state machine.

A control message names a model from the registry and its JSON parameters — never
code, never a pickle — and is signed with HMAC-SHA256 (``SCRAPEGUARD_CONTROL_KEY``).
Every worker reads the whole control topic and folds it through :class:`ModelSlots`,
so all workers agree on the live model, the shadow (challenger) model and the history
used by rollback.

What a message must be to change anything (:func:`verify`, then :meth:`ModelSlots.apply`):

* signed with our key (checked in constant time; a signature of any type or alphabet
  that is not ours is refused, never an exception);
* version 2, with an ``id``, an ``issuer`` and a per-issuer sequence number ``seq``;
* appended to the topic within ``window_s`` of its ``issued_at`` (the record's
  timestamp: the broker's append time on a topic with ``LogAppendTime``, which
  scrapeguard creates the control topic with);
* for a deploy: a registered model, parameters of the declared types **within their
  declared ranges** (``ModelEntry.ranges``), and a factory that accepts them;
* its ``seq`` greater than every sequence number of that issuer seen before, and its
  ``id`` never seen before. The control topic is never deleted (``retention.ms=-1``),
  so every worker, at every restart, folds the same history: a message published again
  later — after a restart, after years — is refused as ``replayed``. A signed message
  that is refused uses up its id and sequence number the same way, so a refusal is
  remembered and a later copy of it is refused too.

Refusals carry a reason code (``ControlRefused.reason``) that the worker logs and counts.

The ``policy`` op carries a policy file's text (TOML: data, checked by the strict loader
before it is accepted, never executed); every worker applies the newest one between two
batches, in the detector and the correlator, and it stays in force over the worker's own
policy file until another is deployed (a restarted worker finds it in the control log).
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson

from models import REGISTRY, ModelSpec
from models.registry import InvalidParams, UnknownModel
from stream.core.policy import Policy, PolicyError
from stream.core.policy_loader import parse_policy
from stream.core.signing import record_mac, sign, signature_matches

VERSION = 2
OPS = ("deploy", "promote", "rollback", "retire_shadow", "policy")
MAX_POLICY_BYTES = 256 * 1024
SLOTS = ("live", "shadow")
DEFAULT_WINDOW_S = 600.0
MAX_SEEN_IDS = 100_000
MAX_ISSUERS = 10_000


@dataclass(frozen=True)
class Authentic:
    """What identifies a correctly signed message, even one that is refused."""

    id: str
    issuer: str
    seq: int


class ControlRefused(ValueError):
    def __init__(self, reason: str, detail: str, authentic: Authentic | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.authentic = authentic  # set when the signature was ours


def make(
    op: str,
    key: bytes,
    *,
    seq: int,
    spec: ModelSpec | None = None,
    slot: str | None = None,
    issuer: str = "",
    issued_at: float | None = None,
    policy: str | None = None,
) -> bytes:
    """A signed control message; ``seq`` must be the issuer's next sequence number."""
    body: dict[str, Any] = {
        "v": VERSION,
        "id": uuid.uuid4().hex,
        "op": op,
        "issued_at": time.time() if issued_at is None else issued_at,
        "issuer": issuer,
        "seq": seq,
    }
    if spec is not None:
        body["spec"] = spec.as_dict()
    if slot is not None:
        body["slot"] = slot
    if policy is not None:
        body["policy"] = policy
    return sign(body, key)


@dataclass(frozen=True)
class Command:
    id: str
    op: str
    slot: str | None
    spec: ModelSpec | None
    issued_at: float
    issuer: str
    seq: int = 0
    policy: Policy | None = None  # op "policy": the checked policy
    policy_sha: str = ""  # its text's SHA-256 (what `models list` and the logs show)

    @property
    def authentic(self) -> Authentic:
        return Authentic(self.id, self.issuer, self.seq)


def verify(
    raw: bytes | None,
    key: bytes | None,
    *,
    appended_at: float | None = None,
    window_s: float = DEFAULT_WINDOW_S,
) -> Command:
    """Parse, authenticate and validate a control message, or raise :class:`ControlRefused`.

    ``appended_at`` is when the message entered the topic (its record timestamp, in
    seconds); without one, now. Total: whatever ``raw`` is, it returns or raises
    :class:`ControlRefused`.
    """
    if not key:
        raise ControlRefused(
            "no_key", "this worker has no SCRAPEGUARD_CONTROL_KEY: model control is disabled"
        )
    try:
        msg = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as exc:
        raise ControlRefused("malformed", f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ControlRefused("malformed", "not a JSON object")
    sig = msg.pop("sig", None)
    if not isinstance(sig, str) or not sig:
        raise ControlRefused("unsigned", "the message has no signature")
    expected = record_mac(key, msg)
    if expected is None or not signature_matches(sig, expected):
        raise ControlRefused("bad_signature", "the signature does not match our key")
    # the signature is ours: from here on every refusal is remembered by id and seq
    if msg.get("v") != VERSION:
        raise ControlRefused("malformed", f"version {msg.get('v')!r}, this worker reads {VERSION}")
    msg_id, issuer, seq = msg.get("id"), msg.get("issuer", ""), msg.get("seq")
    if not isinstance(msg_id, str) or not 0 < len(msg_id) <= 64:
        raise ControlRefused("malformed", "id must be a string of 1-64 characters")
    if not isinstance(issuer, str) or len(issuer) > 200:
        raise ControlRefused("malformed", "issuer must be a string (at most 200 characters)")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < 2**63:
        raise ControlRefused("malformed", "seq must be a positive integer")
    authentic = Authentic(msg_id, issuer, seq)

    def refuse(reason: str, detail: str) -> ControlRefused:
        return ControlRefused(reason, detail, authentic)

    issued_at = msg.get("issued_at")
    if (
        isinstance(issued_at, bool)
        or not isinstance(issued_at, int | float)
        or not math.isfinite(issued_at)
    ):
        raise refuse("malformed", "issued_at must be epoch seconds")
    appended = time.time() if appended_at is None else appended_at
    if abs(appended - issued_at) > window_s:
        raise refuse(
            "stale",
            f"issued at {issued_at:.0f} but appended at {appended:.0f}: more than "
            f"{window_s:g}s apart (a replay, or a clock that is off)",
        )
    op = msg.get("op")
    if op not in OPS:
        raise refuse("malformed", f"unknown op {op!r}")
    slot = msg.get("slot")
    spec: ModelSpec | None = None
    if op == "deploy":
        if slot not in SLOTS:
            raise refuse("malformed", f"deploy needs slot live or shadow, got {slot!r}")
        raw_spec = msg.get("spec")
        if not isinstance(raw_spec, dict) or not isinstance(raw_spec.get("name"), str):
            raise refuse("malformed", "deploy needs a spec with a model name")
        try:
            entry = REGISTRY.get(raw_spec["name"])
        except UnknownModel as exc:
            raise refuse("unknown_model", str(exc)) from None
        if str(raw_spec.get("version", entry.version)) != entry.version:
            raise refuse(
                "unknown_model",
                f"{entry.name} is registered at version {entry.version}, not {raw_spec['version']}",
            )
        params = raw_spec.get("params") or {}
        if not isinstance(params, dict):
            raise refuse("invalid_params", "params must be a JSON object")
        try:
            spec = entry.spec(params)  # types and declared ranges, before anything is built
        except InvalidParams as exc:
            raise refuse("invalid_params", str(exc)) from None
        try:
            entry.build(spec.params)  # factories may check more (e.g. the forest's size)
        except Exception as exc:  # a factory must never take the worker down
            raise refuse("invalid_params", f"{type(exc).__name__}: {exc}") from None
    policy: Policy | None = None
    sha = ""
    if op == "policy":
        try:
            policy, sha = _policy(msg.get("policy"), msg_id)
        except ControlRefused as exc:
            raise refuse(exc.reason, exc.detail) from None
    return Command(msg_id, op, slot, spec, float(issued_at), issuer, seq, policy, sha)


def _policy(text: Any, msg_id: str) -> tuple[Policy, str]:
    """The policy of a ``policy`` message, checked by the strict loader (over the defaults)."""
    if not isinstance(text, str) or len(text.encode()) > MAX_POLICY_BYTES:
        raise ControlRefused("invalid_policy", "policy must be TOML text of at most 256 KiB")
    sha = hashlib.sha256(text.encode()).hexdigest()
    try:
        return parse_policy(text, source=f"policy {sha[:12]} (control {msg_id[:12]})"), sha
    except PolicyError as exc:
        raise ControlRefused("invalid_policy", str(exc)) from None


@dataclass
class ModelSlots:
    """Live model, shadow model, the live models before (for rollback), and what the
    control log has used up: the highest sequence number of each issuer and every
    message id seen (bounded; the oldest ids are forgotten first, and counted)."""

    live: ModelSpec
    shadow: ModelSpec | None = None
    history: list[ModelSpec] = field(default_factory=list)
    last_seq: dict[str, int] = field(default_factory=dict)
    seen: OrderedDict[str, str] = field(default_factory=OrderedDict)  # id -> outcome
    forgotten_ids: int = 0
    policy: Policy | None = None  # deployed through the control log (None: the worker's file)
    policy_sha: str = ""
    # slot -> the id of the control message that last made its model another (a deploy, a
    # promotion, a rollback): snapshots carry it, and one of an earlier model of the slot
    # (even of the same spec: a redeploy to reset a poisoned model) is not restored. A
    # position in the log, not a time: no two clocks are compared.
    changed_by: dict[str, str] = field(default_factory=dict)

    def apply(self, cmd: Command) -> str:
        """Apply ``cmd``; returns a sentence saying what changed. Raises ControlRefused."""
        self._use(cmd.authentic)
        try:
            what = self._change(cmd)
        except ControlRefused as exc:
            self._remember(cmd.id, exc.reason)
            raise ControlRefused(exc.reason, exc.detail, cmd.authentic) from None
        self._remember(cmd.id, "applied")
        return what

    def record_refused(self, exc: ControlRefused) -> None:
        """A signed message :func:`verify` refused: its id and sequence number are used up."""
        a = exc.authentic
        if a is None or a.id in self.seen:
            return
        if a.issuer in self.last_seq or len(self.last_seq) < MAX_ISSUERS:
            self.last_seq[a.issuer] = max(a.seq, self.last_seq.get(a.issuer, 0))
        self._remember(a.id, exc.reason)

    def _use(self, a: Authentic) -> None:
        if a.id in self.seen:
            raise ControlRefused(
                "replayed", f"message {a.id} was seen before ({self.seen[a.id]})", a
            )
        last = self.last_seq.get(a.issuer, 0)
        if a.seq <= last:
            self._remember(a.id, "replayed")
            raise ControlRefused(
                "replayed", f"sequence number {a.seq} of {a.issuer!r} is not after {last}", a
            )
        if a.issuer not in self.last_seq and len(self.last_seq) >= MAX_ISSUERS:
            raise ControlRefused("too_many_issuers", f"more than {MAX_ISSUERS} issuers", a)
        self.last_seq[a.issuer] = a.seq

    def _remember(self, msg_id: str, outcome: str) -> None:
        self.seen[msg_id] = outcome
        while len(self.seen) > MAX_SEEN_IDS:
            self.seen.popitem(last=False)
            self.forgotten_ids += 1

    def next_seq(self, issuer: str) -> int:
        """The sequence number ``issuer``'s next message must carry."""
        return self.last_seq.get(issuer, 0) + 1

    def _change(self, cmd: Command) -> str:
        if cmd.op == "deploy":
            assert cmd.spec is not None
            if cmd.slot == "live":
                self.history.append(self.live)
                self.live = cmd.spec
                what = f"live model is now {cmd.spec.label()} (fresh)"
            else:
                self.shadow = cmd.spec
                what = f"shadow model is now {cmd.spec.label()} (fresh)"
            self.changed_by[cmd.slot or "live"] = cmd.id
        elif cmd.op == "promote":
            if self.shadow is None:
                raise ControlRefused("no_shadow", "there is no shadow model to promote")
            self.history.append(self.live)
            self.live, self.shadow = self.shadow, None
            self.changed_by["live"] = cmd.id
            what = f"promoted {self.live.label()} to live, keeping what it learned"
        elif cmd.op == "policy":
            assert cmd.policy is not None
            self.policy, self.policy_sha = cmd.policy, cmd.policy_sha
            what = f"policy {cmd.policy_sha[:12]} is in force"
        elif cmd.op == "rollback":
            if not self.history:
                raise ControlRefused("no_history", "there is no earlier live model")
            self.live = self.history.pop()
            self.changed_by["live"] = cmd.id
            what = f"rolled back: live model is {self.live.label()} again"
        else:  # retire_shadow
            if self.shadow is None:
                raise ControlRefused("no_shadow", "there is no shadow model")
            what = f"retired shadow {self.shadow.label()}"
            self.shadow = None
        del self.history[:-20]
        return what

    def generation(self, slot: str) -> str:
        """The slot's model as snapshots name it (:attr:`changed_by`; "" before any change)."""
        return self.changed_by.get(slot, "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "live": self.live.as_dict(),
            "shadow": self.shadow.as_dict() if self.shadow else None,
            "history": [s.as_dict() for s in self.history],
            "policy": self.policy_sha or None,
        }


def appended_at(record: Any) -> float | None:
    """The record's timestamp in seconds (Kafka gives milliseconds), or None."""
    ts = getattr(record, "timestamp", None)
    if isinstance(ts, int) and not isinstance(ts, bool) and ts >= 0:
        return ts / 1000.0
    return None
