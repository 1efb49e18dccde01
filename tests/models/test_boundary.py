"""``models/`` is the data scientist's room: it never imports ``stream``."""

from __future__ import annotations

import ast
from pathlib import Path

MODELS = Path(__file__).resolve().parents[2] / "models"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_models_never_import_stream() -> None:
    files = sorted(MODELS.glob("*.py"))
    assert files, "models/ not found"
    bad = {
        f.name: sorted(m for m in imported_modules(f) if m == "stream" or m.startswith("stream."))
        for f in files
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_import_scan_sees_stream_imports() -> None:
    probe = MODELS.parent / "stream" / "cli" / "run.py"
    assert any(m.startswith("stream.") for m in imported_modules(probe))
