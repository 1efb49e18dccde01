"""Secrets are generated per deployment (deploy/new-secrets.sh), never shipped."""

from __future__ import annotations

import base64
import re

from cryptography.fernet import Fernet

from tests.deploy.compose_env import parse_env_text
from tests.deploy.conftest import DEPLOY, ROOT, new_secrets

REQUIRED = {
    "SCRAPEGUARD_SNAPSHOT_KEY",
    "SCRAPEGUARD_CONTROL_KEY",
    "SCRAPEGUARD_PSEUDONYM_KEY",
    "SCRAPEGUARD_LEDGER_KEY",
}


def test_the_generator_makes_every_key_long_random_and_valid() -> None:
    first, second = parse_env_text(new_secrets(), "a"), parse_env_text(new_secrets(), "b")
    assert REQUIRED | {"SCRAPEGUARD_API_TOKEN"} == set(first)
    for name, value in first.items():
        assert len(base64.urlsafe_b64decode(value)) == 32, name  # 32 random bytes
        assert len(value.encode()) >= 32, name
        assert value != second[name], name  # fresh each run
    assert len(set(first.values())) == len(first)  # no key reused for another purpose
    token = Fernet(first["SCRAPEGUARD_LEDGER_KEY"].encode()).encrypt(b"profile:1")
    assert Fernet(first["SCRAPEGUARD_LEDGER_KEY"].encode()).decrypt(token) == b"profile:1"


def test_no_secret_value_is_shipped() -> None:
    secret_names = REQUIRED | {"SCRAPEGUARD_API_TOKEN", "SCRAPEGUARD_SASL_PASSWORD"}
    assigned = re.compile(r"^\s*-?\s*(SCRAPEGUARD_[A-Z_]+)\s*[:=]\s*\S", re.M)
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix in {".yaml", ".yml", ".example", ".env", ".json"}:
            found = set(assigned.findall(path.read_text())) & secret_names
            assert not found, f"{path.relative_to(ROOT)} ships a value for {sorted(found)}"


def test_generated_secret_files_are_ignored_by_git() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {"deploy/secrets.env", "deploy/k8s/secrets.env", "deploy/scrapeguard.env"} <= set(
        ignored
    )
