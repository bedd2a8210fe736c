"""Text from a server, a ledger or a file, with the characters a terminal or a page would
act on instead of showing written as escapes: the one rule of the command line's output
(``cli/terminal.py``) and of the report's page. Only the standard library's ``re`` and
``html``: the command line loads it before it parses its arguments."""

from __future__ import annotations

import html
import re

# What a terminal acts on instead of showing, and what a page shows as nothing or reorders:
# a control character (C0, DEL, C1) but a line break or a tab (kept: the layout of a
# multi-line output, a results table, a log), and a bidirectional override, embedding or
# isolate; not a space of another script, a joiner or a mark.
ACTING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    return match[0].encode("unicode_escape").decode("ascii")  # \x1b, \u202e


def visible(text: str) -> str:
    """The text with every character a terminal or a page would act on written escaped.

    >>> visible("job \\x1b[2J1")
    'job \\\\x1b[2J1'
    >>> visible("two\\nlines\\u202e")
    'two\\nlines\\\\u202e'
    """
    if text.isprintable():  # the common case, checked at C speed
        return text
    return ACTING.sub(_escaped, text)


def html_visible(text: str) -> str:
    """``visible(text)`` escaped for HTML (``&``, ``<``, ``>`` and both quotes).

    >>> html_visible("<b>\\u202e")
    '&lt;b&gt;\\\\u202e'
    """
    return html.escape(visible(text))
