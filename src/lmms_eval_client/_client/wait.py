"""Waiting for a job: the deadline, the terminal states, the polls that may fail.

``JobWaiter`` decides; the clients only poll and sleep. Every terminal status ends a wait
(completed returns, failed and cancelled raise), an unknown status means "still in
progress", and the deadline is on a monotonic clock.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from lmms_eval_api.models import JobInfo, JobStatus

from .._exceptions import (
    APIStatusError,
    JobCancelledError,
    JobFailedError,
    LmmsEvalError,
    WaitTimeoutError,
)
from .._http.config import check_seconds
from .._http.retry import is_transient
from .._log import logger
from .._text import clip_middle
from .arguments import check_job_id

DEFAULT_POLL_INTERVAL = 5.0


def process_job_status(job: JobInfo) -> JobInfo | None:
    """What a polled status means: the job if completed, None to keep waiting, else raise.

    Failed raises JobFailedError, cancelled raises JobCancelledError. Any other status,
    including one this client does not know yet, means the job is still in progress.
    """
    if job.status == JobStatus.COMPLETED:
        return job
    if job.status == JobStatus.FAILED:
        # "Job failed: ..." as lmms-eval's client words it; the full text stays on .error,
        # the line that says why on .reason.
        raise JobFailedError(
            f"Job failed: {clip_middle(job.error or 'the server gave no error text')}\n"
            f"(job {job.job_id})",
            job=job,
        )
    if job.status == JobStatus.CANCELLED:
        raise JobCancelledError(f"Job {job.job_id} was cancelled", job=job)
    return None


def check_wait_args(poll_interval: object, timeout: object) -> float | None:
    """Reject wait_for_job arguments that would spin or never make sense; the timeout."""
    check_seconds("poll_interval", poll_interval)
    if timeout is None:
        return None
    return check_seconds("timeout", timeout, zero=True, alternatives="or None to wait forever")


class JobWaiter:
    """The state of one wait_for_job: deadline, progress printing, next sleep.

    ``clock`` is a monotonic clock, replaceable in tests.
    """

    def __init__(
        self,
        job_id: str,
        poll_interval: float,
        timeout: float | None,
        verbose: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = check_job_id(job_id)
        timeout = check_wait_args(poll_interval, timeout)
        self._poll_interval = float(poll_interval)
        self._clock = clock
        self.deadline = None if timeout is None else clock() + timeout
        """The monotonic time the wait ends at (None: never); polls retry only until then."""
        self._timeout = timeout
        self._verbose = verbose
        self._shown: tuple[str, int | None] | None = None
        self._last: JobInfo | None = None
        self._answered = False  # the server sent an HTTP answer (any status) to a poll
        self._setback: LmmsEvalError | None = None

    @property
    def may_retry_poll(self) -> bool:
        """Whether a failed poll may be retried within the request (see ``setback``).

        Not before the server answered once when there is no deadline: a wrong base_url or
        a stalled server must fail after one request, not after every retry of it.
        """
        return self.deadline is not None or self._answered

    def observe(self, job: JobInfo) -> JobInfo | None:
        """Record a polled job; the job when completed, None to go on; raises on failure."""
        self._last = job
        self._answered = True
        self._setback = None
        if self._verbose:
            self._show(job)
        return process_job_status(job)

    def _show(self, job: JobInfo) -> None:
        status = str(job.status)
        position = job.position_in_queue if job.status == JobStatus.QUEUED else None
        if (status, position) == self._shown:
            return
        self._shown = (status, position)
        label = f"Job {job.job_id[:8]}..."
        if job.status == JobStatus.QUEUED:
            shown = "?" if position is None else position
            print(f"{label} queued (position: {shown})", file=sys.stdout, flush=True)
        elif job.status == JobStatus.COMPLETED:
            print(f"{label} completed!", file=sys.stdout, flush=True)
        else:
            print(f"{label} {status}", file=sys.stdout, flush=True)

    def setback(self, error: LmmsEvalError) -> None:
        """Record a failed poll: log it and go on if it is transient, else raise it.

        A wait outlives server restarts and proxy hiccups (connection refused, 502/503/504,
        429, timeouts) until its own deadline. Without a deadline it rides out a connection
        failure only once the server has answered (a 503 is an answer). A 404 is not
        transient: the server lost the job (JobNotFoundError says how), and waiting longer
        cannot bring it back.
        """
        if not is_transient(error):
            raise error
        if isinstance(error, APIStatusError):
            self._answered = True
        elif self.deadline is None and not self._answered:
            # Waiting forever on a server that never answered once (a wrong base_url, a
            # server that is down) would hang the caller: only a bounded wait rides it out.
            raise error
        self._setback = error
        logger.warning("Waiting for job %s: poll failed, will retry: %s", self.job_id, error)

    def next_delay(self) -> float:
        """Seconds to sleep before the next poll: min(poll_interval, time left).

        Raises WaitTimeoutError, carrying the last job seen, once the deadline has passed.
        """
        if self.deadline is None:
            return self._poll_interval
        remaining = self.deadline - self._clock()
        if remaining <= 0:
            last = f"last status: {self._last.status}" if self._last else "no poll succeeded"
            if self._setback is not None:
                last += f"; last poll failed: {self._setback}"
            raise WaitTimeoutError(
                f"Job {self.job_id} did not finish within {self._timeout:g} s ({last}). "
                "It goes on on the server: wait again, or cancel it.",
                job=self._last,
                job_id=self.job_id,
            ) from self._setback
        return min(self._poll_interval, remaining)
