"""Text a server wrote, made safe to print on a terminal.

A server's job id, error or log line may hold terminal codes (``ESC ]0;...BEL`` retitles the
window, ``ESC [2J`` clears the screen, U+202E reverses what follows): every line the command
line prints passes :func:`for_terminal`, which shows them escaped instead of sending them.
"""

from __future__ import annotations

import logging

from .._visible import ACTING, visible


def for_terminal(text: str) -> str:
    """The text with every character a terminal would act on, not show, written escaped.

    >>> for_terminal("job \\x1b[2J1")
    'job \\\\x1b[2J1'
    >>> for_terminal("two\\nlines\\u202e")
    'two\\nlines\\\\u202e'
    """
    return visible(text)


def json_for_terminal(text: str) -> str:
    """JSON text with every character a terminal would act on written as JSON's escape of
    it (``\\u202e``): they stand only in its strings (json.dumps escapes C0 there), which
    read back the same.

    >>> json_for_terminal('{"a": "x\\u202ey"}')
    '{"a": "x\\\\u202ey"}'
    """
    return ACTING.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


class TerminalFormatter(logging.Formatter):
    """A log line as a terminal may show it: what it quotes of a server, escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))
