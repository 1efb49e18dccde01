"""Workers that vouch for each other: signed member records and worker-to-worker calls.

Every worker announces on the members topic which URL serves its partitions; another
worker routes ``/explain`` for an actor there. Anyone who can write that topic could
name any URL, so:

* a member record is signed with a key derived from the control key (which only
  workers and operators hold); a record without a valid signature is dropped, and its
  URL must be plain ``http(s)://host[:port]`` (no credentials, path or query);
* a routed request never carries the caller's credentials: it carries a credential of
  its own — an HMAC, under another key derived from the control key, of the request's
  path and a timestamp — which the receiving worker checks (a copy is good for
  :data:`PEER_WINDOW_S` seconds, for that path only).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import unquote, urlsplit

from stream.core.internal_records import Member
from stream.core.signing import mac, signature_matches
from stream.core.subkeys import derive

PEER_HEADER = "X-Scrapeguard-Peer"
PEER_WINDOW_S = 30.0


def member_key(control_key: bytes) -> bytes:
    return derive(control_key, "members")


def peer_key(control_key: bytes) -> bytes:
    return derive(control_key, "peer-requests")


def _member_mac(key: bytes, m: Member) -> str:
    return mac(key, {"worker": m.worker, "url": m.url, "ts": m.ts, "partitions": m.partitions})


def sign_member(m: Member, key: bytes) -> Member:
    m.sig = _member_mac(key, m)
    return m


def member_ok(m: Member, key: bytes) -> bool:
    """Signed with our key, and its URL is a plain HTTP origin."""
    return signature_matches(m.sig, _member_mac(key, m)) and plain_origin(m.url)


def plain_origin(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.username
        and not parts.password
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
    )


def _peer_mac(key: bytes, ts: int, path: str) -> str:
    # over the decoded path: clients and servers may re-quote it on the way
    return hmac.new(key, f"{ts}\n{unquote(path)}".encode(), hashlib.sha256).hexdigest()


def peer_credential(key: bytes, path: str, now: float | None = None) -> str:
    """The ``X-Scrapeguard-Peer`` value for a request of ``path``."""
    ts = int(time.time() if now is None else now)
    return f"{ts}:{_peer_mac(key, ts, path)}"


def peer_ok(key: bytes, value: str | None, path: str, now: float | None = None) -> bool:
    """True when ``value`` is a fresh credential of a worker for exactly ``path``."""
    if not value or ":" not in value:
        return False
    ts_text, _, given = value.partition(":")
    if not ts_text.isascii() or not ts_text.isdigit() or len(ts_text) > 12:
        return False
    ts = int(ts_text)
    now = time.time() if now is None else now
    if abs(now - ts) > PEER_WINDOW_S:
        return False
    return signature_matches(given, _peer_mac(key, ts, path))
