"""Text a server wrote, made safe to print on a terminal.

A server's job id, error or log line may hold terminal codes (``ESC ]0;...BEL`` retitles the
window, ``ESC [2J`` clears the screen, U+202E reverses what follows): every line the command
line prints passes :func:`for_terminal`, which shows them escaped instead of sending them.
"""

from __future__ import annotations

import logging
import unicodedata

# Kept as they are: line breaks and tabs of multi-line output (a results table, a log).
_LAYOUT = frozenset("\n\t")


def _escaped(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")  # \x1b, \u202e, \U000e0001


def for_terminal(text: str) -> str:
    """The text with every character a terminal would act on, not show, written escaped.

    >>> for_terminal("job \\x1b[2J1")
    'job \\\\x1b[2J1'
    >>> for_terminal("two\\nlines\\u202e")
    'two\\nlines\\\\u202e'
    """
    if text.isprintable():  # the common case, checked at C speed
        return text
    return "".join(_escaped(ch) if _acts(ch) else ch for ch in text)


def _acts(ch: str) -> bool:
    """A control character (C0, DEL, C1) but a line break or a tab, or a bidirectional
    override, embedding or isolate; not a space of another script, a joiner or a mark."""
    if ch in _LAYOUT:
        return False
    bidi = "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"
    return bidi or unicodedata.category(ch) == "Cc"


class TerminalFormatter(logging.Formatter):
    """A log line as a terminal may show it: what it quotes of a server, escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))
