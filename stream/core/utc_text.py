"""Times as text, in UTC: one formatter for the API, the CLI and the reports, total over
every float (a time read back from a topic anyone with write access can fill may lie past
what a date can hold, or be NaN: words, never an exception)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

SECONDS: Final = "%Y-%m-%d %H:%M:%S UTC"
MINUTES: Final = "%Y-%m-%d %H:%M"
CLOCK: Final = "%H:%M:%S"
RFC3339: Final = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(ts: float, fmt: str = SECONDS, beyond: str | None = None) -> str:
    """``ts`` (epoch seconds) in UTC as ``fmt``; a time no date holds gives ``beyond``,
    by default words that name the value."""
    try:
        return datetime.fromtimestamp(ts, UTC).strftime(fmt)
    except (OverflowError, ValueError, OSError):
        return f"a time no date holds ({ts!r})" if beyond is None else beyond
