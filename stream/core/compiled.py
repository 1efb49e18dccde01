"""Which modules of the pure core run compiled, and a switch to run them as Python.

``pip install`` compiles the modules named in :data:`COMPILED` with mypyc (``setup.py``)
into C extensions beside their sources, when a C compiler is there; Python imports an
extension before a source of the same name. The sources stay the truth: the same files
run as Python where nothing was compiled (``SCRAPEGUARD_PURE_PYTHON=1 pip install``, or
no compiler) and decide alike (``tests/core/test_compiled.py``).

``python -m stream.core.compiled`` prints each module's state: ``compiled``, ``python``,
or ``stale`` — an extension older than its source, left by an edit since the last
install (``make install`` builds again). Only the standard library is imported here:
``setup.py`` reads :data:`COMPILED` from this file before anything is installed.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.abc import PathEntryFinder
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, SourceFileLoader
from pathlib import Path

# every event goes through these (and the correlator's activity through the last few);
# none of them imports Kafka, asyncio or a module outside the pure core but structlog,
# orjson and the model interface
COMPILED: tuple[str, ...] = (
    "models.transform",
    "stream.core.actor_codec",
    "stream.core.actor_state",
    "stream.core.actor_table",
    "stream.core.automation",
    "stream.core.batch",
    "stream.core.behaviour",
    "stream.core.correlation",
    "stream.core.counter_shape",
    "stream.core.counters",
    "stream.core.enforcement",
    "stream.core.features",
    "stream.core.group_state",
    "stream.core.internal_records",
    "stream.core.older_era",
    "stream.core.partition_detector",
    "stream.core.partition_scoring",
    "stream.core.policy",
    "stream.core.records",
    "stream.core.request_kind",
    "stream.core.scoring",
    "stream.core.shared_values",
    "stream.core.sliding_counter",
    "stream.core.validation",
    "stream.core.windows",
    "stream.core.zero_runs",
)

_ROOT = Path(__file__).resolve().parents[2]  # the directory holding stream/ and models/


def source(name: str) -> Path:
    """The source file of one of :data:`COMPILED`."""
    return _ROOT.joinpath(*name.split(".")).with_suffix(".py")


def state(name: str) -> str:
    """``compiled``, ``stale`` or ``python``.

    Stale is an extension built in place (an editable install: ``setup.py`` beside the
    sources) that is older than its source. An installed wheel is never stale: pip does
    not keep the files' times, and what it installed was built from those sources."""
    spec = importlib.util.find_spec(name)
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    if origin is None or origin.suffix == ".py":
        return "python"
    src = source(name)
    in_place = (_ROOT / "setup.py").exists()
    if in_place and src.exists() and src.stat().st_mtime > origin.stat().st_mtime:
        return "stale"
    return "compiled"


def states() -> dict[str, str]:
    """:func:`state` of every module of :data:`COMPILED` (this imports the packages that
    hold them, ``models`` too: call :func:`use_python` before, if at all)."""
    return {name: state(name) for name in COMPILED}


def summary() -> str:
    """``compiled``, ``python``, or ``mixed (…)`` naming the odd ones: for logs and
    ``bench.json``."""
    got = states()
    kinds = set(got.values())
    if len(kinds) == 1:
        return kinds.pop()
    odd = sorted(name for name, kind in got.items() if kind != "compiled")
    return f"mixed ({', '.join(f'{n}: {got[n]}' for n in odd)})"


def use_python() -> None:
    """Import this project's modules from their sources from now on, not from compiled
    extensions: to profile the core with cProfile, or to compare it with the compiled one.
    Call it before any of :data:`COMPILED` is imported (RuntimeError otherwise)."""
    loaded = [n for n in COMPILED if n in sys.modules]
    if loaded:
        raise RuntimeError(f"use_python() after these were imported: {', '.join(loaded)}")
    dirs = {str(_ROOT / "stream" / "core"), str(_ROOT / "models")}
    source_only = FileFinder.path_hook((SourceFileLoader, SOURCE_SUFFIXES))

    def hook(path: str) -> PathEntryFinder:
        if str(Path(path).resolve()) in dirs:
            return source_only(path)
        raise ImportError  # the next hook's

    sys.path_hooks.insert(0, hook)
    for path in list(sys.path_importer_cache):
        if str(Path(path).resolve()) in dirs:
            del sys.path_importer_cache[path]


if __name__ == "__main__":
    for module, kind in states().items():
        print(f"{kind:9} {module}")
