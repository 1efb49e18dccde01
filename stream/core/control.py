"""Model lifecycle through the control topic: signed messages and the slot state machine.

A control message names a model from the registry and its JSON parameters — never
code, never a pickle — and is signed with HMAC-SHA256 (``SCRAPEGUARD_CONTROL_KEY``).
Every worker reads the whole control topic and folds it through :class:`ModelSlots`,
so all workers agree on the live model, the shadow (challenger) model and the history
used by rollback. Unsigned, badly signed, unknown-model and invalid-parameter
messages are refused with a reason and change nothing.

The ``policy`` op carries a policy file's text (TOML: data, checked by the strict loader
before it is accepted, never executed); every worker applies the newest one between two
batches, in the detector and the correlator, and it stays in force over the worker's own
policy file until another is deployed (a restarted worker finds it in the control log).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from models import REGISTRY, ModelSpec
from models.registry import InvalidParams, UnknownModel
from stream.core.policy import Policy, PolicyError
from stream.core.policy_loader import parse_policy

OPS = ("deploy", "promote", "rollback", "retire_shadow", "policy")
MAX_POLICY_BYTES = 256 * 1024
SLOTS = ("live", "shadow")


class ControlRefused(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _canonical(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign(body: dict[str, Any], key: bytes) -> bytes:
    """The message as sent: ``body`` plus ``sig`` (hex HMAC of the canonical body)."""
    mac = hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()
    return orjson.dumps({**body, "sig": mac})


def make(
    op: str,
    key: bytes,
    *,
    spec: ModelSpec | None = None,
    slot: str | None = None,
    issuer: str = "",
    policy: str | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "v": 1,
        "id": uuid.uuid4().hex,
        "op": op,
        "issued_at": time.time(),
        "issuer": issuer,
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
    policy: Policy | None = None  # op "policy": the checked policy
    policy_sha: str = ""  # its text's SHA-256 (what `models list` and the logs show)


def verify(raw: bytes | None, key: bytes | None) -> Command:
    """Parse, authenticate and validate a control message, or raise :class:`ControlRefused`."""
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
    expected = hmac.new(key, _canonical(msg), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, expected):
        raise ControlRefused("bad_signature", "the signature does not match our key")
    op = msg.get("op")
    if op not in OPS:
        raise ControlRefused("malformed", f"unknown op {op!r}")
    slot = msg.get("slot")
    spec: ModelSpec | None = None
    if op == "deploy":
        if slot not in SLOTS:
            raise ControlRefused("malformed", f"deploy needs slot live or shadow, got {slot!r}")
        raw_spec = msg.get("spec")
        if not isinstance(raw_spec, dict) or not isinstance(raw_spec.get("name"), str):
            raise ControlRefused("malformed", "deploy needs a spec with a model name")
        try:
            entry = REGISTRY.get(raw_spec["name"])
        except UnknownModel as exc:
            raise ControlRefused("unknown_model", str(exc)) from None
        if str(raw_spec.get("version", entry.version)) != entry.version:
            raise ControlRefused(
                "unknown_model",
                f"{entry.name} is registered at version {entry.version}, not {raw_spec['version']}",
            )
        params = raw_spec.get("params") or {}
        if not isinstance(params, dict):
            raise ControlRefused("invalid_params", "params must be a JSON object")
        try:
            spec = entry.spec(params)
            entry.build(params)  # factories may check more than types (e.g. ranges)
        except (InvalidParams, ValueError, TypeError) as exc:
            raise ControlRefused("invalid_params", str(exc)) from None
    policy: Policy | None = None
    sha = ""
    if op == "policy":
        policy, sha = _policy(msg.get("policy"), str(msg.get("id", "")))
    return Command(
        str(msg.get("id", "")),
        op,
        slot,
        spec,
        float(msg.get("issued_at", 0.0)),
        str(msg.get("issuer", "")),
        policy,
        sha,
    )


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
    """Live model, shadow model, and the live models before (for rollback)."""

    live: ModelSpec
    shadow: ModelSpec | None = None
    history: list[ModelSpec] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    policy: Policy | None = None  # deployed through the control log (None: the worker's file)
    policy_sha: str = ""

    def apply(self, cmd: Command) -> str:
        """Apply ``cmd``; returns a sentence saying what changed. Raises ControlRefused."""
        if cmd.id and cmd.id in self.applied:
            raise ControlRefused("duplicate", f"message {cmd.id} was applied already")
        if cmd.op == "deploy":
            assert cmd.spec is not None
            if cmd.slot == "live":
                self.history.append(self.live)
                self.live = cmd.spec
                what = f"live model is now {cmd.spec.label()} (fresh)"
            else:
                self.shadow = cmd.spec
                what = f"shadow model is now {cmd.spec.label()} (fresh)"
        elif cmd.op == "promote":
            if self.shadow is None:
                raise ControlRefused("no_shadow", "there is no shadow model to promote")
            self.history.append(self.live)
            self.live, self.shadow = self.shadow, None
            what = f"promoted {self.live.label()} to live, keeping what it learned"
        elif cmd.op == "policy":
            assert cmd.policy is not None
            self.policy, self.policy_sha = cmd.policy, cmd.policy_sha
            what = f"policy {cmd.policy_sha[:12]} is in force"
        elif cmd.op == "rollback":
            if not self.history:
                raise ControlRefused("no_history", "there is no earlier live model")
            self.live = self.history.pop()
            what = f"rolled back: live model is {self.live.label()} again"
        else:  # retire_shadow
            if self.shadow is None:
                raise ControlRefused("no_shadow", "there is no shadow model")
            what = f"retired shadow {self.shadow.label()}"
            self.shadow = None
        if cmd.id:
            self.applied.append(cmd.id)
            del self.applied[:-10000]
        del self.history[:-20]
        return what

    def as_dict(self) -> dict[str, Any]:
        return {
            "live": self.live.as_dict(),
            "shadow": self.shadow.as_dict() if self.shadow else None,
            "history": [s.as_dict() for s in self.history],
            "policy": self.policy_sha or None,
        }
