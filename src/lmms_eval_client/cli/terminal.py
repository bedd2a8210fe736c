"""Text a server wrote, made safe to print on a terminal.

A server's job id, error or log line may hold terminal codes (``ESC ]0;...BEL`` retitles the
window, ``ESC [2J`` clears the screen, U+202E reverses what follows): every line the command
line prints passes :func:`for_terminal`, which shows them escaped instead of sending them.
"""

from __future__ import annotations

import logging
import re

# What a terminal acts on instead of showing: a control character (C0, DEL, C1) but a line
# break or a tab (kept: the layout of multi-line output, a results table, a log), and a
# bidirectional override, embedding or isolate; not a space of another script, a joiner or
# a mark.
_ACTING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    return match[0].encode("unicode_escape").decode("ascii")  # \x1b, \u202e


def for_terminal(text: str) -> str:
    """The text with every character a terminal would act on, not show, written escaped.

    >>> for_terminal("job \\x1b[2J1")
    'job \\\\x1b[2J1'
    >>> for_terminal("two\\nlines\\u202e")
    'two\\nlines\\\\u202e'
    """
    if text.isprintable():  # the common case, checked at C speed
        return text
    return _ACTING.sub(_escaped, text)


def json_for_terminal(text: str) -> str:
    """JSON text with every character a terminal would act on written as JSON's escape of
    it (``\\u202e``): they stand only in its strings (json.dumps escapes C0 there), which
    read back the same.

    >>> json_for_terminal('{"a": "x\\u202ey"}')
    '{"a": "x\\\\u202ey"}'
    """
    return _ACTING.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


class TerminalFormatter(logging.Formatter):
    """A log line as a terminal may show it: what it quotes of a server, escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))
