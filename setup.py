"""Build of scrapeguard: the package metadata is in ``pyproject.toml``; this file only
compiles the pure core with mypyc (part of mypy) into C extensions, beside the sources.

The core (``COMPILED``) is plain typed Python, so the same files run compiled or not: a
build without a C compiler, or with ``SCRAPEGUARD_PURE_PYTHON=1`` in the environment of
``pip install``, installs the pure-Python package, which decides alike (``tests/core/
test_compiled.py`` runs the bench mix through both and compares every output), at
about 1.8x the CPU per event in the core and 1/1.2 of a worker's throughput
(``make bench``).
``python -m stream.core.compiled`` says which is in use.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent

# the modules to compile, named in stream/core/compiled.py (which imports nothing else)
COMPILED = [
    name.replace(".", "/") + ".py"
    for name in runpy.run_path(str(HERE / "stream/core/compiled.py"), run_name="setup")["COMPILED"]
]


def remove_built() -> None:
    """Remove the extensions an earlier in-place build left beside the sources: whatever
    this build decides (compiled, Python on purpose, or Python for want of a compiler),
    no older compiled module may run in place of its source."""
    for pattern in ("stream/core/*.so", "models/*.so", "*__mypyc*.so"):
        for built in HERE.glob(pattern):
            built.unlink()


class OptionalBuildExt(build_ext):
    """Builds the compiled core, or nothing: a failed C build leaves the pure package
    (pip shows the warning with -v; the worker logs it at start)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers, ...: pure Python it is
            # none of what was built goes into a wheel: a module whose extension failed
            # would be imported from its source while the others call the compiled copy
            # of it. (An in-place build copies its extensions beside the sources only
            # once all are built, and remove_built() took the earlier ones away.)
            for ext in self.extensions:
                built = Path(self.get_ext_fullpath(ext.name))  # in build_lib: not in place
                if built.exists():
                    built.unlink()
            print(f"scrapeguard: compiled core not built ({exc}); pure Python", file=sys.stderr)


def ext_modules() -> list:
    remove_built()
    if os.environ.get("SCRAPEGUARD_PURE_PYTHON") == "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # built without the build requirements (--no-build-isolation)
        print("scrapeguard: mypyc not found; pure Python", file=sys.stderr)
        return []
    # not the project's mypy settings (their plugin is not a build requirement); other
    # modules are imported untyped (Any) instead of type-checked again: seconds
    # instead of minutes, and calls into them go through Python as before
    try:
        return list(
            mypycify(
                ["--config-file=", "--follow-imports=skip", "--ignore-missing-imports", *COMPILED],
                opt_level="3",
            )
        )
    except (Exception, SystemExit) as exc:  # mypyc refused a module: pure Python it is
        print(f"scrapeguard: mypyc failed ({exc!r}); pure Python", file=sys.stderr)
        return []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
