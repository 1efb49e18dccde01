"""The worker's secret keys: required, never placeholders, long enough, each its own.

A worker holds four keys (``docs/security.md`` says what each protects and how to
rotate it):

=================  ====================================================================
``snapshot_key``   HMAC of model snapshots (the snapshot topic)
``control_key``    HMAC of control messages; sub-keys derived from it sign member records
                   and authenticate worker-to-worker requests
``pseudonym_key``  keyed-HMAC pseudonyms of people's identifiers, one sub-key per kind
``ledger_key``     Fernet key that seals profile ids in the affected-people ledger
=================  ====================================================================

There are no defaults: :func:`check_worker_settings` refuses to start a worker when a
key is missing, is a known placeholder (the old defaults, ``change-me`` …), is shorter
than 32 bytes, or is the same as another key — with one line naming the setting.
``scrapeguard run`` and the test suite generate random keys for themselves
(:func:`generate`, :func:`load_or_create`).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from stream.errors import UserError
from stream.settings import Settings

MIN_KEY_BYTES = 32

#: setting → what it protects (for the error message)
REQUIRED = {
    "snapshot_key": "signs model snapshots",
    "control_key": "signs control messages and worker-to-worker requests",
    "pseudonym_key": "pseudonymises identifiers of people",
    "ledger_key": "seals profile ids in the ledger (a Fernet key)",
}

#: the old built-in defaults and the deploy examples' values: public, so refused
PLACEHOLDERS = frozenset(
    {
        "scrapeguard-dev-snapshot-key-change-me",
        "scrapeguard-dev-key-change-me",
        "change-me",
        "changeme",
        "change-me-to-a-long-random-secret",
        "change-me-to-another-long-random-secret",
        "change-me-to-a-third-long-random-secret",
        "replace_with_a_fernet_key_44_chars_base64_urlsafe=",
        "e2e-test-key",
        "e2e-control-key",
        "secret",
        "password",
    }
)
_PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "replace-with", "replace_with",
                      "placeholder", "scrapeguard-dev")

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class InsecureSettings(UserError):
    """A worker would start with a missing, public or weak secret, or an open API."""


def env_name(setting: str) -> str:
    return f"SCRAPEGUARD_{setting.upper()}"


def is_placeholder(value: str) -> bool:
    low = value.strip().lower()
    return low in PLACEHOLDERS or any(word in low for word in _PLACEHOLDER_WORDS)


def key_problems(settings: Settings) -> list[str]:
    """One sentence per key that is missing, a placeholder, too short or reused."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name, what in REQUIRED.items():
        secret = getattr(settings, name)
        env = env_name(name)
        if secret is None or not secret.get_secret_value().strip():
            problems.append(
                f"{env} is not set (it {what}); generate one with `scrapeguard keys new`"
            )
            continue
        value = secret.get_secret_value()
        if is_placeholder(value):
            problems.append(f"{env} is a published placeholder value; generate a random key")
            continue
        if name == "ledger_key":
            try:
                Fernet(value.encode())
            except (ValueError, TypeError):
                problems.append(
                    f"{env} must be a Fernet key (32 url-safe base64 bytes; "
                    "`scrapeguard incidents new-key` makes one)"
                )
                continue
        elif len(value.encode()) < MIN_KEY_BYTES:
            problems.append(f"{env} is shorter than {MIN_KEY_BYTES} bytes")
            continue
        if value in seen:
            problems.append(f"{env} is the same as {env_name(seen[value])}: use a key of its own")
            continue
        seen[value] = name
    return problems


def http_problems(settings: Settings) -> list[str]:
    """The API is open only on the loopback interface; elsewhere it needs a token."""
    token = settings.api_token
    if token is not None and is_placeholder(token.get_secret_value()):
        return ["SCRAPEGUARD_API_TOKEN is a published placeholder value"]
    if token is not None and len(token.get_secret_value().encode()) < MIN_KEY_BYTES:
        # the API answers a wrong token at once and without a limit: guessed, it is the API
        return [
            f"SCRAPEGUARD_API_TOKEN is shorter than {MIN_KEY_BYTES} bytes "
            "(e.g. `openssl rand -hex 32` makes one)"
        ]
    if settings.web_port and token is None and not is_loopback(settings.web_host):
        return [
            f"SCRAPEGUARD_WEB_HOST is {settings.web_host}, not the loopback interface, and "
            "SCRAPEGUARD_API_TOKEN is not set: the API would be open to the network"
        ]
    return []


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_worker_settings(settings: Settings) -> None:
    """Raise :class:`InsecureSettings` naming every key or HTTP setting to fix."""
    problems = key_problems(settings) + http_problems(settings)
    if problems:
        raise InsecureSettings(
            "refusing to start the worker:\n  " + "\n  ".join(problems)
        )


# -- making keys --------------------------------------------------------------------------
def new_secret() -> str:
    """A random key: 48 bytes, url-safe base64 (64 characters)."""
    return secrets.token_urlsafe(48)


def generate() -> dict[str, str]:
    """A fresh set of the four keys as ``SCRAPEGUARD_*`` environment variables."""
    return {
        env_name("snapshot_key"): new_secret(),
        env_name("control_key"): new_secret(),
        env_name("pseudonym_key"): new_secret(),
        env_name("ledger_key"): Fernet.generate_key().decode(),
    }


def load_or_create(path: Path) -> dict[str, str]:
    """The keys in ``path`` (``KEY=value`` lines); written once, mode 0600, when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("# scrapeguard keys for this machine's demo (`scrapeguard run`); secret\n")
            fh.writelines(f"{k}={v}\n" for k, v in keys.items())
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
    return out
