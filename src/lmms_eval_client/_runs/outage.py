"""A run's ledger that cannot be used for a while: its PostgreSQL server restarting or
failing over, a lock another process holds too long. What follows a run for hours (a
checkpoint watcher, ``runs watch``) rides that out as it rides out a server down: said once
per outage, tried again at each poll, said again when the ledger answers. Nothing of a
failed operation was recorded (see ``LedgerConnectionError``), so trying again is safe.
"""

from __future__ import annotations

from .._log import logger
from .errors import LedgerBusyError, LedgerConnectionError, LedgerError

# What passes by itself; a ledger damaged, full, refused or read-only does not.
PASSING: tuple[type[LedgerError], ...] = (LedgerConnectionError, LedgerBusyError)


class LedgerOutage:
    """Whether ``who``'s ledger is out now, said once when it goes and once when it is back.

    >>> outage = LedgerOutage("Watcher of out/")
    >>> outage.up()  # (it was never out: nothing said)
    """

    def __init__(self, who: str) -> None:
        self._who = who
        self.error: LedgerError | None = None
        """The last error of the outage under way; None while the ledger answers (what a
        wait that ends during an outage raises, as ``runs watch --timeout`` does)."""

    def down(self, error: LedgerError) -> None:
        """A use of the ledger failed with ``error`` (one of ``PASSING``)."""
        if self.error is None:
            logger.warning("%s: the run's ledger cannot be used for now (tried again at each "
                           "poll until it answers): %s", self._who, error)  # fmt: skip
        self.error = error

    def up(self) -> None:
        """A use of the ledger went through."""
        if self.error is not None:
            self.error = None
            logger.warning("%s: the run's ledger answers again", self._who)
