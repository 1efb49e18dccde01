"""The worker's process-wide set-up (stream.cli.worker)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from stream.cli.worker import configure_interpreter
from stream.settings import Settings


@pytest.fixture()
def switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_worker_keeps_the_gil_50_ms_by_default(
    switch_interval: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCRAPEGUARD_GIL_SWITCH_INTERVAL_MS", raising=False)
    configure_interpreter(Settings())
    assert sys.getswitchinterval() == pytest.approx(0.05)


def test_the_switch_interval_is_a_setting(
    switch_interval: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRAPEGUARD_GIL_SWITCH_INTERVAL_MS", "5")
    configure_interpreter(Settings())
    assert sys.getswitchinterval() == pytest.approx(0.005)
    monkeypatch.setenv("SCRAPEGUARD_GIL_SWITCH_INTERVAL_MS", "0.1")
    with pytest.raises(ValueError, match="gil_switch_interval_ms"):
        Settings()
