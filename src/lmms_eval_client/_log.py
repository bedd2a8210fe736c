"""The ``lmms_eval_client`` logger, silent unless the application configures logging.

A library must not print: without a NullHandler, Python's last-resort handler writes every
WARNING (a wait's failed poll, say) to stderr of a program that configured nothing.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("lmms_eval_client")
logger.addHandler(logging.NullHandler())


class Recurring:
    """Failures that recur, said once: a thing's first failure at WARNING, the next ones at
    DEBUG while it keeps failing, and once more at WARNING when it works again. Whatever
    follows a run for hours (its polls, a watcher, a trainer callback, a tracker) rides out
    a server down for an hour: that is two warnings, not one a poll.

    >>> said = Recurring()
    >>> said.failed("queue", "reading the queue failed")  # a WARNING
    >>> said.failed("queue", "reading the queue failed")  # a DEBUG
    >>> said.worked("queue", "reading the queue works again")  # a WARNING
    """

    def __init__(self) -> None:
        self._failing: set[str] = set()

    def failed(self, key: str, message: str, *args: object) -> None:
        """``key`` failed: ``message % args`` said, at WARNING unless it was failing."""
        level = logging.DEBUG if key in self._failing else logging.WARNING
        self._failing.add(key)
        logger.log(level, message, *args)

    def worked(self, key: str, message: str, *args: object) -> None:
        """``key`` worked: ``message % args`` said (WARNING) if it was failing."""
        if key in self._failing:
            self._failing.discard(key)
            logger.warning(message, *args)

    def answered(self, key: str) -> None:
        """``key`` ended its failures in a way said otherwise (a refusal): nothing said."""
        self._failing.discard(key)
