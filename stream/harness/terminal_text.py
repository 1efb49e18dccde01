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
# surrogates, private-use and unassigned code points
HIDDEN: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Unicode's other default-ignorable code points (shown as nothing): Hangul fillers, the
# combining grapheme joiner, Khmer's inherent vowels, Mongolian and other variation
# selectors
IGNORABLE: Final = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)


def _escape(ch: str) -> str:
    if ch == "\\":
        return "\\\\"  # so that a written "\x1b" cannot pass for an escaped one
    code = ord(ch)
    if unicodedata.category(ch) not in HIDDEN and not any(a <= code <= b for a, b in IGNORABLE):
        return ch
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
