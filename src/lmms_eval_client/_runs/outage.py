"""A run's ledger that cannot be used for a while: its PostgreSQL server restarting or
failing over, a lock another process holds too long. What follows a run for hours (a
checkpoint watcher, ``runs watch``) rides that out as it rides out a server down: said once
per outage, tried again at each poll, said again when the ledger answers. Nothing of a
failed operation was recorded (see ``LedgerConnectionError``), so trying again is safe.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .._log import logger
from .errors import LedgerBusyError, LedgerConnectionError, LedgerError

# What passes by itself; a ledger damaged, full, refused or read-only does not.
PASSING: tuple[type[LedgerError], ...] = (LedgerConnectionError, LedgerBusyError)


class LedgerOutage:
    """Whether ``who``'s ledger is out now, said once when it goes and once when it is back.

    The uses of one pass (``one_pass``) make one verdict: a lock that fails a pass's writes
    and lets its reads through is an outage under way, not one gone and back at each pass.

    >>> outage = LedgerOutage("Watcher of out/")
    >>> outage.up()  # (it was never out: nothing said)
    """

    def __init__(self, who: str) -> None:
        self._who = who
        self.error: LedgerError | None = None
        """The last error of the outage under way; None while the ledger answers (what a
        wait that ends during an outage raises, as ``runs watch --timeout`` does). In a
        pass: as of the pass before, until this one's end."""
        self._in_pass = False
        self._failed: LedgerError | None = None  # (in a pass) the last use that failed
        self._went = False  # (in a pass) a use went through

    @contextlib.contextmanager
    def one_pass(self) -> Iterator[None]:
        """The uses of the ledger in the block are one pass: ``down`` and ``up`` only note
        how each went, and its end gives one verdict: out if any use failed, else back if
        any went through. A pass raised out of gives none (what follows it ends)."""
        self._in_pass, self._failed, self._went = True, None, False
        try:
            yield
        finally:
            self._in_pass = False
        if self._failed is not None:
            self.down(self._failed)
        elif self._went:
            self.up()

    def down(self, error: LedgerError) -> None:
        """A use of the ledger failed with ``error`` (one of ``PASSING``)."""
        if self._in_pass:
            self._failed = error
            return
        if self.error is None:
            logger.warning("%s: the run's ledger cannot be used for now (tried again at each "
                           "poll until it answers): %s", self._who, error)  # fmt: skip
        self.error = error

    def up(self) -> None:
        """A use of the ledger went through."""
        if self._in_pass:
            self._went = True
        elif self.error is not None:
            self.error = None
            logger.warning("%s: the run's ledger answers again", self._who)
