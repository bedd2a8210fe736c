"""What a watcher says once of a checkpoint it does not submit now, and remembers: one the
server or the key rules refused (not sent again by this watcher), one it cannot read, and
(with ``every``) one left incomplete behind later ones, which holds them back."""

from __future__ import annotations

from pathlib import Path

from .._exceptions import InvalidArgumentError, LmmsEvalError
from .._log import logger
from .._text import shown
from .checkpoint import Checkpoint
from .submission import may_pass_later, refused_alone


class Notices:
    """The checkpoints a watcher of ``directory`` has said something of (each once)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self.refused: set[str] = set()  # not submitted again by this watcher
        self.unreadable: set[str] = set()  # the readiness rule could not read them
        self._held_back: set[str] = set()
        self._left_out: set[str] = set()

    def failed(self, checkpoint: Checkpoint, error: LmmsEvalError) -> bool:
        """A failed submission said: True when the others may go on (this one refused,
        remembered), False when they wait (the server down or busy: this one, kept
        unsent, is tried again at the next scan); raised when nothing may go on (the
        ledger, credentials the server refuses)."""
        if may_pass_later(error):
            logger.warning("Watcher of %s: could not submit %s (tried again at the next "
                           "scan): %s", self._directory, checkpoint.name, error)  # fmt: skip
            return False
        if isinstance(error, InvalidArgumentError):  # its name cannot be a key
            why = ""
        elif refused_alone(error):
            why = " (the server refused it; not sent again until the watcher restarts)"
        else:
            raise error
        logger.error("Watcher of %s: %s is not submitted%s: %s", self._directory,
                     checkpoint.name, why, error)  # fmt: skip
        self.refused.add(checkpoint.name)
        return True

    def cannot_read(self, checkpoint: Checkpoint, error: Exception) -> None:
        if checkpoint.name not in self.unreadable:
            self.unreadable.add(checkpoint.name)
            logger.warning("Watcher of %s: cannot read %s (not submitted until it can be "
                           "read): %s", self._directory, checkpoint.name, error)  # fmt: skip

    def held_back(self, checkpoint: Checkpoint, listed: list[Checkpoint], every: int) -> None:
        """(every) The k-th is incomplete while later ones exist, as when its save died."""
        if listed[-1] is not checkpoint and checkpoint.name not in self._held_back:
            self._held_back.add(checkpoint.name)
            logger.warning("Watcher of %s: %s is not complete while later checkpoints are: "
                           "with every=%d, they wait for it (remove it to pass over it)",
                           self._directory, checkpoint.name, every)  # fmt: skip

    def left_out(self, name: str, why: str) -> None:
        """A folder the pattern matches that is not watched, and why (said once)."""
        if name not in self._left_out:
            self._left_out.add(name)
            logger.warning("Watcher of %s: %s is not watched: %s", self._directory,
                           shown(name), why)  # fmt: skip
