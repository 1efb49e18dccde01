"""docs/offline.md runs: its Python blocks, in order, in one namespace (as a notebook)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stream.harness.offline import OfflineResult

DOC = Path(__file__).resolve().parents[2] / "docs" / "offline.md"


def test_the_notebook_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert (tmp_path / "scores.png").stat().st_size > 1000
    assert (tmp_path / "features" / "features.csv").exists()
    result = namespace["result"]
    assert isinstance(result, OfflineResult) and result.decisions  # the scrapers are caught
