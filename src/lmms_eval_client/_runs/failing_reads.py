"""A run's reads of a server that fail for a while (the server down, restarting, busy):
said once while they keep failing, at debug level after, and once when they work again.
A run polls every few seconds for hours: a server down for an hour is not a warning a poll
(in a training's log, a watcher's, ``runs watch``'s)."""

from __future__ import annotations

from .._exceptions import LmmsEvalError
from .._log import Recurring
from .._text import without_userinfo


class FailingReads:
    """What each of a run's reads that keeps failing is (``reading the queue of URL``,
    ``reading job ID of URL``), said once per outage (``Recurring``).

    >>> reads = FailingReads()
    >>> reads.worked("run", "reading the queue of http://127.0.0.1:8000")  # (nothing said)
    """

    def __init__(self) -> None:
        self._said = Recurring()

    def failed(self, run: object, what: str, error: LmmsEvalError) -> None:
        """``what`` failed with ``error`` (transient: tried again at the next poll)."""
        what = without_userinfo(what)
        self._said.failed(what, "Evaluation run %s: %s failed (tried again at each poll; "
                          "said again when it works): %s", run, what, error)  # fmt: skip

    def worked(self, run: object, what: str) -> None:
        """``what`` went through."""
        what = without_userinfo(what)
        self._said.worked(what, "Evaluation run %s: %s works again", run, what)
