"""The whole suite: how pytest-xdist spreads its tests over processes.

``make test`` runs ``pytest -n auto`` (pyproject.toml). Every test under ``tests/e2e``
goes to one process, in file order: that process starts the embedded broker and the
session worker once (``tests/e2e/conftest.py``) and the end-to-end tests share them.
The other tests — unit, model contract, offline harness — run beside it in the other
processes, a module at a time, so that a module's fixtures and cached runs (the
independent scenario's ten offline runs) are made once. ``make test ARGS="-n 0"`` runs
everything in one process.

The units are made by a scheduler of our own (``pytest_xdist_make_scheduler``), not by
the ``xdist_group`` marker: under pytest 9.2 that marker had no effect (pytest-xdist 3.8
renames a test's node id through an attribute pytest no longer reads), and the e2e tests
ran in two processes, each with a broker and a worker of its own.
"""

from __future__ import annotations

from typing import Any

import pytest

E2E = "tests/e2e/"


def work_unit(nodeid: str) -> str:
    """What goes to one process as a whole: the end-to-end suite, or one module."""
    module = nodeid.split("::", 1)[0]
    return E2E if module.startswith(E2E) else module


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end suite first: it is the longest unit, so it starts at once."""
    items.sort(key=lambda item: not item.nodeid.startswith(E2E))  # stable: file order kept


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: called only under -n
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return SuiteScheduling(config, log)
