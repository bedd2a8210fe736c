"""What a watcher says once of a checkpoint it does not submit now, and remembers: one the
server or the key rules refused (not sent again by this watcher), one it cannot read, and
(with ``every``) one left incomplete behind later ones, which holds them back."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .._exceptions import APIResponseValidationError, InvalidArgumentError, LmmsEvalError
from .._log import logger
from .._runs.options import RetryOnFailure
from .._runs.outage import PASSING, LedgerOutage
from .._runs.outcomes import LOST, TrackedJob
from .._text import shown
from .checkpoint import Checkpoint
from .submission import CouldNotSubmit, may_pass_later, refused_alone

# Checkpoints refused in a row with one status that stop the watch: the server refuses the
# settings, not a checkpoint (a wrong model, a bad option).
REFUSALS_TO_STOP = 3


class Notices:
    """The checkpoints a watcher of ``directory`` has said something of (each once)."""

    def __init__(self, directory: Path, jobs: Iterable[TrackedJob] = ()) -> None:
        self._directory = directory
        # attempts the run's retry made (told as submissions, each once): those of ``jobs``,
        # the watcher's when it was made, were told by an earlier watcher
        self._told_retries = {job.seq for job in jobs if job.retry_of is not None}
        self.refused: set[str] = set()  # not submitted again by this watcher
        self.unreadable: set[str] = set()  # the readiness rule could not read them
        self._held_back: set[str] = set()
        self._left_out: set[str] = set()
        self._refusals, self._refused_status = 0, None  # refused in a row, with that status
        self._said_waiting = False
        self._said_lost: set[str | None] = set()
        self._waiting_since: float | None = None  # (finish) since when it only waits
        self._outage = LedgerOutage(f"Watcher of {directory}")
        self._could_not = CouldNotSubmit(f"Watcher of {directory}", "scan")

    def failed(self, checkpoint: Checkpoint, error: LmmsEvalError) -> bool:
        """A failed submission said: True when the others may go on (this one refused,
        remembered), False when they wait (the server down or busy: this one, kept
        unsent, is tried again at the next scan); raised when nothing may go on (the
        ledger, credentials the server refuses; a ledger out for a while is raised too:
        the watch's loop says it once and tries this one again at the next scan)."""
        if isinstance(error, PASSING):
            raise error
        if may_pass_later(error):
            self._could_not.failed(checkpoint.name, error)
            return False
        if isinstance(error, InvalidArgumentError):  # its name cannot be a key
            why = ""
        elif refused_alone(error):
            self._could_not.answered()
            # one refusal is this checkpoint's; the same one for several in a row is the
            # settings', which every checkpoint would get: the watch stops
            status = getattr(error, "status_code", None)
            self._refusals = self._refusals + 1 if status == self._refused_status else 1
            self._refused_status = status
            if self._refusals >= REFUSALS_TO_STOP:
                raise error
            why = " (the server refused it; not sent again until the watcher restarts)"
        else:
            raise error
        logger.error("Watcher of %s: %s is not submitted%s: %s", self._directory,
                     checkpoint.name, why, error)  # fmt: skip
        self.refused.add(checkpoint.name)
        return True

    @contextlib.contextmanager
    def one_pass(self) -> Iterator[None]:
        """Around a pass of the watch's loop (its collect and its scan): the ledger's uses in
        it (``riding_out``, ``ledger_out``) make one verdict at its end, so a lock that
        fails the collect's writes and lets the scan's reads through is said once."""
        with self._outage.one_pass():
            yield

    @contextlib.contextmanager
    def riding_out(self) -> Iterator[None]:
        """Around a poll of the watch's loop: a server's answer it cannot read (a gateway's
        HTML page, once) is said, and the watch goes on (tried again at the next pass), as
        a 502 is ridden out; so is a ledger out for a while (``ledger_out``)."""
        try:
            with self.ledger_out():
                yield
        except APIResponseValidationError as exc:
            logger.warning("Watcher of %s: a poll's answer could not be read (tried again at "
                           "the next pass): %s", self._directory, exc)  # fmt: skip

    @contextlib.contextmanager
    def ledger_out(self) -> Iterator[None]:
        """Around a part of a pass (``one_pass``): the run's ledger out for a while (its
        database restarting, a lock held long) is said once, and the watch goes on, as it
        does with the server down (nothing of the failed part was recorded)."""
        try:
            yield
        except PASSING as exc:
            self._outage.down(exc)
        else:
            self._outage.up()

    def went_through(self) -> bool:
        """(after ``one_pass``) Every use of the ledger in the pass went through."""
        return self._outage.error is None

    def ledger_still_out(self) -> None:
        """(finish) Its timeout passed: the ledger out in the last pass (any part of it)
        raises its error, as ``runs watch --timeout`` does (what is pending is not known)."""
        if self._outage.error is not None:
            raise self._outage.error

    def lost(self, jobs: Iterable[TrackedJob], retry: RetryOnFailure | None) -> None:
        """The watcher's jobs that are lost (the server forgot them, or a submission's answer
        was lost and could not be resolved) and that the run's ``retry`` will not resubmit:
        never sent again (they may have run), each said once, not missed in silence."""
        for job in jobs:
            if job.state != LOST or job.retried_by is not None or job.key in self._said_lost:
                continue
            if retry is None or not retry.wants(job):
                self._said_lost.add(job.key)
                logger.warning("Watcher of %s: %s is lost (seq %d), not submitted again (it may "
                               "have run): evaluate it under another key, or with a run of "
                               "retry=RetryOnFailure(lost=True) (watch --retry-lost)",
                               self._directory, job.key, job.seq)  # fmt: skip

    def retries(
        self, jobs: Iterable[TrackedJob], told: Callable[[TrackedJob], None] | None
    ) -> None:
        """Tell each new attempt the run's ``retry`` submitted (a lost or failed job sent
        again) as a submission, once: the watcher did not submit it, its caller sees it."""
        if told is None:  # (a pass told to no one: the next that is tells them)
            return
        for job in jobs:
            if job.retry_of is not None and job.seq not in self._told_retries:
                self._told_retries.add(job.seq)
                told(job)

    def left_at_end(self, waiting: int) -> None:
        """(finish) Its timeout passed with ``waiting`` checkpoints not submitted."""
        if waiting:
            logger.warning("Watcher of %s: %d checkpoint(s) not submitted at the end (not "
                           "complete, or the server down)", self._directory, waiting)  # fmt: skip

    def only_waiting(self, waiting: int, now: float, started: float) -> None:
        """(each pass of finish, begun at ``started``) ``waiting`` checkpoints are not
        submitted and no job is pending (0: otherwise): said once after a minute of it, as
        a save that died waits forever (a save finishing does not take that long); said
        again for a later such wait."""
        if not waiting:
            self._waiting_since, self._said_waiting = None, False
            return
        if self._waiting_since is None or self._waiting_since < started:
            self._waiting_since, self._said_waiting = now, False  # (not an earlier finish's)
        if not self._said_waiting and now - self._waiting_since >= 60:
            self._said_waiting = True
            logger.warning("Watcher of %s: finish waits for %d checkpoint(s) not submitted yet "
                           "for a minute (not complete, or the server down); a save that "
                           "died never completes: remove it, or give finish a timeout",
                           self._directory, waiting)  # fmt: skip

    def sent(self) -> None:
        """A checkpoint went through: the refusals in a row start again."""
        self._refusals = 0
        self._could_not.went_through()

    def cannot_read(self, checkpoint: Checkpoint, error: Exception) -> None:
        if checkpoint.name not in self.unreadable:
            self.unreadable.add(checkpoint.name)
            logger.warning("Watcher of %s: cannot read %s (not submitted until it can be "
                           "read): %s", self._directory, checkpoint.name, error)  # fmt: skip

    def held_back(
        self,
        checkpoint: Checkpoint,
        later: list[Checkpoint],
        every: int,
        ready: Callable[[Checkpoint], bool],
    ) -> None:
        """(every) The k-th is incomplete while a later one is complete, as when its save
        died (said once)."""
        if checkpoint.name in self._held_back or not any(ready(c) for c in later):
            return
        self._held_back.add(checkpoint.name)
        logger.warning("Watcher of %s: %s is not complete while later checkpoints are: with "
                       "every=%d, they wait for it (if its save died, remove it to go on)",
                       self._directory, checkpoint.name, every)  # fmt: skip

    def left_out(self, name: str, why: str) -> None:
        """A folder the pattern matches that is not watched, and why (said once)."""
        if name not in self._left_out:
            self._left_out.add(name)
            logger.warning("Watcher of %s: %s is not watched: %s", self._directory,
                           shown(name), why)  # fmt: skip
