"""Waiting for jobs: the deadline, the terminal states, the polls that may fail.

``Waiter`` decides for a set of jobs; its callers only poll, sleep and show. Every terminal
status ends a job's wait (completed, failed, cancelled; a job the server does not know),
an unknown status means "still in progress", and the deadline is on a monotonic clock:
between polls a wait sleeps its pause, cut to the time left. The pause starts at
FIRST_POLL_PAUSE and doubles up to poll_interval, so a job that ends (or fails) at once is
seen at once and a long one is polled every poll_interval. ``Deadline`` is that rule alone
(an evaluation run's waits use it over their own polls) and ``timeout_message`` the one
message of a wait whose deadline passed. No I/O here: tests drive it with a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Generic, TypeVar

from .._checks import check_seconds
from .._exceptions import (
    APIStatusError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    LmmsEvalError,
    WaitTimeoutError,
)
from .._http.retry import is_transient, within_deadline
from .._log import logger
from .._text import clip_middle

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo

DEFAULT_POLL_INTERVAL = 5.0
FIRST_POLL_PAUSE = 0.25
"""The first pause of a wait, in seconds; each next one doubles, up to its poll_interval.

A server refuses a bad model or task in well under a second and a small job ends in a few:
a wait that slept its whole poll_interval first would report them seconds late. The
doubling keeps the extra polls of a long wait to a handful (four at the default 5 s).
"""


def process_job_status(job: JobInfo) -> JobInfo | None:
    """What a polled status means: the job if completed, None to keep waiting, else raise.

    Failed raises JobFailedError, cancelled raises JobCancelledError. Any other status,
    including one this client does not know yet, means the job is still in progress.
    """
    from lmms_eval_api.models import JobStatus  # loaded: `job` is a model

    if job.status == JobStatus.COMPLETED:
        return job
    if job.status == JobStatus.FAILED:
        # "Job failed: ..." as lmms-eval's client words it; the full text stays on .error,
        # the line that says why on .reason.
        raise job_failed_error(job, f"job {job.job_id}")
    if job.status == JobStatus.CANCELLED:
        raise JobCancelledError(f"Job {job.job_id} was cancelled", job=job)
    return None


def job_failed_error(job: JobInfo, where: str) -> JobFailedError:
    """The error of a failed job, its message quoting the error text (secrets masked)."""
    from .._results.redaction import redacted_error

    text = redacted_error(job) or "the server gave no error text"
    return JobFailedError(f"Job failed: {clip_middle(text)}\n({where})", job=job)


def check_poll_interval(poll_interval: object) -> float:
    """A wait's seconds between polls: a number in (0, MAX_TIMEOUT], never one that spins."""
    return check_seconds("poll_interval", poll_interval)


def check_wait_timeout(timeout: object) -> float | None:
    """A wait's timeout: seconds >= 0 (0 looks once), or None to wait as long as it takes."""
    if timeout is None:
        return None
    return check_seconds("timeout", timeout, zero=True, alternatives="or None to wait forever")


class Deadline:
    """When a wait ends, on a monotonic clock, and how long it sleeps between polls.

    The rule of every wait (a job's, a run's, the command line's): sleep the pause, cut
    to the time left; once no time is left, the wait is over. The pause is
    FIRST_POLL_PAUSE, then doubles at each sleep up to poll_interval. The arguments are
    checked ones (``check_poll_interval``, ``check_wait_timeout``).

    >>> deadline = Deadline(5.0, None)
    >>> [deadline.next_delay() for _ in range(7)]
    [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    """

    def __init__(
        self,
        poll_interval: float,
        timeout: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.clock = clock
        self.at = None if timeout is None else clock() + timeout
        """The monotonic time the wait ends at (None: never)."""
        self._pause = min(FIRST_POLL_PAUSE, poll_interval)

    def next_delay(self) -> float | None:
        """Seconds to sleep before the next poll; None once the deadline has passed."""
        delay = within_deadline(self._pause, self.at, self.clock())
        if delay is not None:
            self._pause = min(self._pause * 2, self.poll_interval)
        return delay

    def left(self) -> float | None:
        """Seconds until the deadline, 0 once it passed (None: no deadline)."""
        return None if self.at is None else max(0.0, self.at - self.clock())

    def passed(self) -> bool:
        """Whether no time is left (never, without a timeout)."""
        return self.at is not None and self.clock() >= self.at


def timeout_message(subject: str, timeout: float, state: str, then: str) -> str:
    """The message of a wait whose deadline passed: what, how long, what was seen, what now.

    >>> timeout_message("Job j1", 2.5, "last status: running", "It goes on.")
    'Job j1 did not finish within 2.5 s (last status: running). It goes on.'
    """
    return f"{subject} did not finish within {timeout:g} s ({state}). {then}"


class Outcome(str, Enum):
    """How the wait for a job ended (``outcome`` in the command line's ``wait --json``)."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    """The deadline passed first; the job goes on on the server."""
    NOT_FOUND = "not_found"
    """The server does not know the job."""


@dataclass
class WaitedJob:
    """One job being waited for: what was last seen of it, and how its wait ended."""

    job_id: str
    job: JobInfo | None = None
    """The last state polled (None until a poll succeeds)."""
    outcome: Outcome | None = None
    """How its wait ended; None while it is pending."""
    error: LmmsEvalError | None = None
    """The typed error of an outcome other than completed (JobFailedError, ...)."""
    ended: float | None = None
    """The monotonic time its wait ended."""
    setback: LmmsEvalError | None = None
    """The last poll's failure, while polls fail (cleared by the next answer)."""
    setback_repeated: bool = False
    """Whether that poll failed as the one before it did (said already: not said again)."""
    _shown: tuple[str, int | None] | None = field(default=None, repr=False)

    @property
    def position(self) -> int | None:
        """Its position in the queue while it is queued (0: next to run), else None."""
        if self.outcome is not None or self.job is None:
            return None
        from lmms_eval_api.models import JobStatus  # loaded: a job was polled

        return self.job.position_in_queue if self.job.status == JobStatus.QUEUED else None

    def observe(self, job: JobInfo) -> bool:
        """Record a polled job; True when what a person sees of it (status, position) changed."""
        self.job, self.setback = job, None
        shown = (str(job.status), self.position)
        changed, self._shown = shown != self._shown, shown
        return changed

    def end(self, outcome: Outcome, now: float, error: LmmsEvalError | None = None) -> None:
        self.outcome, self.ended, self.error = outcome, now, error

    def result(self) -> JobInfo:
        """The completed job; else raises the error its wait ended with."""
        if self.error is not None:
            raise self.error
        if self.outcome is not Outcome.COMPLETED or self.job is None:
            raise RuntimeError(f"the wait for job {self.job_id} has not ended")
        return self.job


def progress_line(waited: WaitedJob) -> str:
    """wait_for_job's line for a change, worded as lmms-eval's client prints it.

    ``Job 1a2b3c4d... queued (position: 0)``, ``... running``, ``... completed!``.
    """
    label = f"Job {waited.job_id[:8]}..."
    job = waited.job
    if job is None:
        return f"{label} polling"
    from lmms_eval_api.models import JobStatus  # loaded: `job` is a model

    if job.status == JobStatus.QUEUED:
        position = "?" if job.position_in_queue is None else job.position_in_queue
        return f"{label} queued (position: {position})"
    if job.status == JobStatus.COMPLETED:
        return f"{label} completed!"
    return f"{label} {job.status!s}"


def wait_timeout(waited: WaitedJob, timeout: float) -> WaitTimeoutError:
    """The WaitTimeoutError of a job still pending at the deadline, caused by the last
    failed poll if polls were failing."""
    last = "no poll succeeded" if waited.job is None else f"last status: {waited.job.status}"
    if waited.setback is not None:
        last += f"; last poll failed: {waited.setback}"
    then = "It goes on on the server: wait again, or cancel it."
    error = WaitTimeoutError(
        timeout_message(f"Job {waited.job_id}", timeout, last, then),
        job=waited.job,
        job_id=waited.job_id,
    )
    error.__cause__ = waited.setback
    return error


W = TypeVar("W", bound=WaitedJob)


class Waiter(Generic[W]):
    """The wait for a set of jobs: which are pending, the deadline, the polls that failed.

    Its caller polls each pending job, hands the answer to ``observe`` (a failure to
    ``setback``) and sleeps ``next_delay()`` until that is None; then ``time_out()`` ends
    the jobs the deadline caught. ``jobs`` may be a subclass of WaitedJob that carries
    what a view needs.

    Args:
        jobs: The jobs to wait for, each a WaitedJob (its job_id checked by the caller).
        poll_interval: The longest pause between polls, in seconds (> 0; the first pauses
            are shorter: ``Deadline``).
        timeout: Seconds in all; None waits as long as it takes, 0 looks once.
        clock: A monotonic clock, replaceable in tests.
        transient: Which failed polls waiting may outlive (default: ``_http.retry``'s).
    """

    def __init__(
        self,
        jobs: Iterable[W],
        poll_interval: object,
        timeout: object,
        *,
        clock: Callable[[], float] = time.monotonic,
        transient: Callable[[LmmsEvalError], bool] = is_transient,
    ) -> None:
        interval = check_poll_interval(poll_interval)
        self._deadline = Deadline(interval, check_wait_timeout(timeout), clock)
        self.jobs: tuple[W, ...] = tuple(jobs)
        self._transient = transient
        self._answered = False  # the server sent an HTTP answer (any status) to a poll

    @property
    def clock(self) -> Callable[[], float]:
        return self._deadline.clock

    @property
    def deadline(self) -> float | None:
        """The monotonic time the wait ends at (None: never); polls retry only until then."""
        return self._deadline.at

    @property
    def may_retry_poll(self) -> bool:
        """Whether a failed poll may be retried within the request (see ``setback``).

        Not before the server answered once when there is no deadline: a wrong base_url or
        a stalled server must fail after one request, not after every retry of it.
        """
        return self._deadline.at is not None or self._answered

    def pending(self) -> list[W]:
        """The jobs whose wait has not ended, in the order given."""
        return [waited for waited in self.jobs if waited.outcome is None]

    def observe(self, waited: W, job: JobInfo) -> bool:
        """Record a polled job, ending its wait on a terminal status.

        Returns True when what a person sees of it changed (its status, its queue
        position), or its wait ended.
        """
        self._answered = True
        if waited.setback is not None:
            logger.warning("Waiting for job %s: polls work again", waited.job_id)
        changed = waited.observe(job)
        try:
            done = process_job_status(job)
        except JobFailedError as exc:
            waited.end(Outcome.FAILED, self.clock(), exc)
        except JobCancelledError as exc:
            waited.end(Outcome.CANCELLED, self.clock(), exc)
        else:
            if done is None:
                return changed
            waited.end(Outcome.COMPLETED, self.clock())
        return True

    def setback(self, waited: W, error: LmmsEvalError, *, answered: bool = False) -> bool:
        """Record a failed poll of a job: True when it ended the job's wait, False when the
        wait goes on; raises the error when waiting cannot outlive it.

        A wait outlives server restarts and proxy hiccups (connection refused, 502/503/504,
        429, timeouts) until its own deadline. Without a deadline it rides out a connection
        failure only once the server has answered (a 503 is an answer; so is an error
        that says where the job is, ``answered``: a pool's server holding it is down). A
        404 ends the job's wait (``Outcome.NOT_FOUND``): the server lost the job (the
        JobNotFoundError says how), and waiting longer cannot bring it back. Any other
        failure is raised: it is not about one job (a 401, a wrong server).
        """
        if isinstance(error, JobNotFoundError):
            self._answered = True
            waited.end(Outcome.NOT_FOUND, self.clock(), error)
            return True
        if not self._transient(error):
            raise error
        if isinstance(error, APIStatusError) or answered:
            self._answered = True
        elif self._deadline.at is None and not self._answered:
            # Waiting forever on a server that never answered once (a wrong base_url, a
            # server that is down) would hang the caller: only a bounded wait rides it out.
            raise error
        # A server down for an hour fails each poll the same way: said once, not each poll.
        before = waited.setback
        waited.setback_repeated = before is not None and _same(before, error)
        waited.setback = error
        if waited.setback_repeated:
            logger.debug("Waiting for job %s: poll failed again: %s", waited.job_id, error)
        else:
            logger.warning("Waiting for job %s: poll failed, will retry: %s", waited.job_id, error)
        return False

    def next_delay(self) -> float | None:
        """Seconds to sleep before the next poll: the Deadline's pause, cut to the time left.

        None when the wait is over: no job is pending, or the deadline has passed (then
        ``time_out()`` ends the jobs still pending).
        """
        if not self.pending():
            return None
        return self._deadline.next_delay()

    def time_out(self) -> list[W]:
        """Once the deadline has passed, end the wait of every job still pending, its
        ``error`` a WaitTimeoutError; those jobs (none before the deadline)."""
        timeout = self._deadline.timeout
        if timeout is None or not self._deadline.passed():
            return []
        now = self.clock()
        caught = self.pending()
        for waited in caught:
            waited.end(Outcome.TIMEOUT, now, wait_timeout(waited, timeout))
        return caught


def _same(before: LmmsEvalError, error: LmmsEvalError) -> bool:
    """Whether two failed polls failed the same way (its type and message)."""
    return type(before) is type(error) and str(before) == str(error)
