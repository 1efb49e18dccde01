"""The worker's process-wide set-up (stream.cli.worker): GIL switch interval, GC,
the hash seed."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from stream.cli.worker import configure_interpreter
from stream.core import subkeys
from stream.core.windows import hash_key, use_hash_key
from stream.settings import Settings


@pytest.fixture()
def interpreter_settings() -> Iterator[None]:
    """The interpreter's settings as they were, after the test."""
    before, thresholds, key = sys.getswitchinterval(), gc.get_threshold(), hash_key()
    yield
    sys.setswitchinterval(before)
    gc.set_threshold(*thresholds)
    use_hash_key(key)


def test_the_worker_keeps_the_gil_50_ms_and_collects_young_garbage_every_50k_by_default(
    interpreter_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCRAPEGUARD_GIL_SWITCH_INTERVAL_MS", raising=False)
    monkeypatch.delenv("SCRAPEGUARD_GC_YOUNG_THRESHOLD", raising=False)
    configure_interpreter(Settings())
    assert sys.getswitchinterval() == pytest.approx(0.05)
    assert gc.get_threshold() == (50_000, 20, 20)


def test_the_young_garbage_threshold_is_a_setting(
    interpreter_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRAPEGUARD_GC_YOUNG_THRESHOLD", "12345")
    configure_interpreter(Settings())
    assert gc.get_threshold() == (12345, 20, 20)
    for refused in ("10", "5000000"):  # below Python's own; collector all but off
        monkeypatch.setenv("SCRAPEGUARD_GC_YOUNG_THRESHOLD", refused)
        with pytest.raises(ValueError, match="gc_young_threshold"):
            Settings()


def test_the_switch_interval_is_a_setting(
    interpreter_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRAPEGUARD_GIL_SWITCH_INTERVAL_MS", "5")
    configure_interpreter(Settings())
    assert sys.getswitchinterval() == pytest.approx(0.005)
    monkeypatch.setenv("SCRAPEGUARD_GIL_SWITCH_INTERVAL_MS", "0.1")
    with pytest.raises(ValueError, match="gil_switch_interval_ms"):
        Settings()


def test_the_profile_hash_is_seeded_from_the_pseudonym_key(
    interpreter_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "k" * 40
    monkeypatch.setenv("SCRAPEGUARD_PSEUDONYM_KEY", key)
    configure_interpreter(Settings())
    assert hash_key() == subkeys.hash_key(key.encode()) != b""
    monkeypatch.setenv("SCRAPEGUARD_PSEUDONYM_KEY", "m" * 40)
    configure_interpreter(Settings())
    assert hash_key() == subkeys.hash_key(b"m" * 40) != subkeys.hash_key(key.encode())
