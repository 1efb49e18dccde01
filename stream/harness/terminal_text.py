"""Text from outside quoted back to a terminal: :func:`shown`.

A log or a labels file is written by others (a log, by its clients): a line quoted back to
the analyst — an unparsable example, a first line no format reads, an id that matched
nothing — must not reach the terminal with an escape sequence that moves the cursor or
retitles the window, nor with a character that reorders what is shown (a bidirectional
override) or hides part of it.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# control, format (bidirectional overrides, zero-width), line and paragraph separators,
# surrogates
HIDDEN: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _escape(ch: str) -> str:
    if ch == "\\":
        return "\\\\"  # so that a written "\x1b" cannot pass for an escaped one
    if unicodedata.category(ch) not in HIDDEN:
        return ch
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def shown(text: str, limit: int = 200) -> str:
    """``text``, at most ``limit`` characters of it, as it may be shown on a terminal:
    a backslash doubled, and every control, format and separator character written as
    ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``."""
    text = text[:limit]
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text
    return "".join(map(_escape, text))
