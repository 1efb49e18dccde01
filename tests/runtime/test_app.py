"""How a worker's parts are put together: what starts with what, and in which order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stream import keys
from stream.core.policy_loader import parse_policy
from stream.core.pseudonym import Pseudonymizer
from stream.runtime.app import NoTablesManager, Worker, create_worker
from stream.settings import Settings


def _worker(tmp_path: Path, **over: Any) -> Worker:
    fresh = {name.removeprefix("SCRAPEGUARD_").lower(): v for name, v in keys.generate().items()}
    settings = Settings(data_dir=tmp_path, **fresh, **over)
    return create_worker(settings, parse_policy(""), Pseudonymizer(b"k" * 32))


def test_the_detector_starts_with_the_app_not_after_fausts_group_join(tmp_path: Path) -> None:
    """``app.service`` would start the detector once Faust's group has assigned partitions:
    two group joins one after the other on every restart. As dependencies of the app the
    writer, the global view and the detector start before Faust's own services (which the
    app adds when it starts) and stop after them, the shared writer last."""
    w = _worker(tmp_path)
    assert list(w.app._children) == [w.writer, w.view, w.detector]
    assert not w.app._extra_services  # nothing of ours waits for Faust's table recovery


def test_the_detector_waits_for_the_control_log_through_the_views_own_event(
    tmp_path: Path,
) -> None:
    w = _worker(tmp_path)
    assert w.detector.control_caught_up is w.view.caught_up


def test_fausts_group_takes_the_session_setting(tmp_path: Path) -> None:
    app = _worker(tmp_path, group_session_timeout_s=3.0).app
    assert app.conf.broker_session_timeout == 3.0
    assert app.conf.broker_heartbeat_interval == 0.5


def test_the_worker_declares_no_faust_table_so_fausts_start_need_not_wait_for_any(
    tmp_path: Path,
) -> None:
    """Faust waits a second at start for tables to be declared; the worker's app skips
    that wait (:class:`~stream.runtime.app.NoTablesManager`), which holds only while the
    worker declares none: its state lives in scrapeguard's own changelogs."""
    app = _worker(tmp_path).app
    assert isinstance(app.tables, NoTablesManager)
    assert not list(app.tables.values())
