"""Shared by the deploy tests: paths, YAML documents, the published schemas."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def schema_validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    # the schema itself is checked too, except its regexes: the Kubernetes schemas are
    # written for Go's regexp (``^(?i)(abort|warn)?$``, which Python 3.11 refuses)
    checker = jsonschema.FormatChecker()
    checker.checkers.pop("regex", None)
    cls.check_schema(schema, format_checker=checker)
    return cls(schema)  # type: ignore[no-any-return]


def new_secrets() -> str:
    """What an operator runs once: ``sh deploy/new-secrets.sh``."""
    out = subprocess.run(
        ["sh", str(DEPLOY / "new-secrets.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]
