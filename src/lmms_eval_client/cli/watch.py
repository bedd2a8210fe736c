"""Waiting for several jobs at once: the polling, the outcomes; no rendering here.

``watch`` polls each pending job once per interval until every job ended or the deadline
passed, and tells a view what changed (``live.py`` draws it). It keeps the SDK's wait
semantics: every terminal status ends a job (``process_job_status``), an unknown status
means "still in progress", the deadline is monotonic, a poll that fails transiently (the
server restarting, a proxy's 502/503/504 or 429) is shown and the wait goes on, but a
server that never answered fails at once when there is no deadline (a wrong ``--server``
must not hang a script).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from pydantic import JsonValue

from lmms_eval_client import (
    APIStatusError,
    EvalClient,
    EvalPool,
    JobCancelledError,
    JobFailedError,
    JobInfo,
    JobNotFoundError,
    JobStatus,
    LmmsEvalError,
    WaitTimeoutError,
    process_job_status,
)

from .._http.retry import is_transient  # a failed poll that waiting may outlive
from .exit_codes import ExitCode, one_line


class Outcome(str, Enum):
    """How a job's wait ended (``outcome`` in ``wait --json``)."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    """The deadline passed first; the job goes on on the server."""
    NOT_FOUND = "not_found"
    """The server does not know the job."""


_EXIT_CODES = {
    Outcome.COMPLETED: ExitCode.OK,
    Outcome.FAILED: ExitCode.FAILED,
    Outcome.CANCELLED: ExitCode.CANCELLED,
    Outcome.TIMEOUT: ExitCode.TIMEOUT,
    Outcome.NOT_FOUND: ExitCode.NOT_FOUND,
}


@dataclass
class Tracked:
    """One job being waited for: what was last seen of it, and how its wait ended."""

    job_id: str
    since: float
    """The monotonic time the wait began."""
    job: JobInfo | None = None
    outcome: Outcome | None = None
    error: LmmsEvalError | None = None
    """The typed error of an outcome other than completed (JobFailedError, ...)."""
    ended: float | None = None
    setback: str | None = None
    """The last poll's failure, while polls fail (cleared by the next answer)."""
    _shown: tuple[str, int | None] | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        """The status to show: the outcome once ended, else the last polled status."""
        if self.outcome is not None:
            return self.outcome.value
        return "polling" if self.job is None else str(self.job.status)

    @property
    def position(self) -> int | None:
        """Its position in the queue while it is queued (0: next to run), else None."""
        if self.outcome is None and self.job is not None and self.job.status == JobStatus.QUEUED:
            return self.job.position_in_queue
        return None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.outcome is None else _EXIT_CODES[self.outcome]

    def elapsed(self, now: float) -> float:
        """Seconds since the wait began, stopped when the job's wait ended."""
        return (self.ended if self.ended is not None else now) - self.since

    @property
    def detail(self) -> str:
        """One line: why it failed, what it wrote, why polls fail; empty when nothing to say."""
        if self.error is not None:
            if isinstance(self.error, JobFailedError):
                return self.error.reason
            return one_line(self.error)
        if self.setback is not None:
            return f"poll failed, retrying: {self.setback}"
        if self.outcome is Outcome.COMPLETED and self.job is not None and self.job.result:
            return "results: " + ", ".join(self.job.result)
        return ""

    def observe(self, job: JobInfo) -> bool:
        """Record a polled job; True when what a person sees of it changed."""
        self.job, self.setback = job, None
        shown = (str(job.status), self.position)
        changed, self._shown = shown != self._shown, shown
        return changed

    def end(self, outcome: Outcome, now: float, error: LmmsEvalError | None = None) -> None:
        self.outcome, self.ended, self.error = outcome, now, error

    def to_json(self, now: float) -> dict[str, JsonValue]:
        """``wait --json``'s record of this job."""
        return {
            "job_id": self.job_id,
            "outcome": None if self.outcome is None else self.outcome.value,
            "exit_code": int(self.exit_code),
            "elapsed_seconds": round(self.elapsed(now), 3),
            "error": None if self.error is None else one_line(self.error),
            "job": None if self.job is None else self.job.model_dump(mode="json"),
        }


class View(Protocol):
    """What ``watch`` tells as it goes (``live.LiveView``, ``live.LineView``)."""

    def changed(self, tracked: Tracked) -> None:
        """The job's status or queue position changed, or its wait ended."""

    def setback(self, tracked: Tracked) -> None:
        """A poll of the job failed and will be retried (``tracked.setback`` says why)."""


def watch(
    client: EvalClient | EvalPool,
    tracked: Sequence[Tracked],
    view: View,
    *,
    poll_interval: float,
    timeout: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll every job of ``tracked`` until each has an outcome (or the deadline passed).

    Raises:
        LmmsEvalError: A poll failed for good: the server unreachable before it ever
            answered (with no deadline), or an error that waiting cannot outlive (a 401...).
    """
    deadline = None if timeout is None else clock() + timeout
    answered = False
    while True:
        for job in [t for t in tracked if t.outcome is None]:
            try:
                info = client.get_job(job.job_id)
            except JobNotFoundError as exc:
                job.end(Outcome.NOT_FOUND, clock(), exc)
                view.changed(job)
                continue
            except LmmsEvalError as exc:
                if isinstance(exc, APIStatusError):
                    answered = True
                if not is_transient(exc) or (deadline is None and not answered):
                    raise
                job.setback = one_line(exc)
                view.setback(job)
                continue
            answered = True
            if _observe(job, info, clock()):
                view.changed(job)
        pending = [t for t in tracked if t.outcome is None]
        if not pending:
            return
        delay = poll_interval
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                for job in pending:
                    job.end(Outcome.TIMEOUT, clock(), _timeout_error(job, timeout or 0.0))
                    view.changed(job)
                return
            delay = min(poll_interval, remaining)
        sleep(delay)


def _observe(job: Tracked, info: JobInfo, now: float) -> bool:
    changed = job.observe(info)
    try:
        done = process_job_status(info)
    except JobFailedError as exc:
        job.end(Outcome.FAILED, now, exc)
        return True
    except JobCancelledError as exc:
        job.end(Outcome.CANCELLED, now, exc)
        return True
    if done is not None:
        job.end(Outcome.COMPLETED, now)
        return True
    return changed


def _timeout_error(job: Tracked, timeout: float) -> WaitTimeoutError:
    last = f"last status: {job.job.status}" if job.job is not None else "no poll succeeded"
    if job.setback is not None:
        last += f"; last poll failed: {job.setback}"
    return WaitTimeoutError(
        f"Job {job.job_id} did not finish within {timeout:g} s ({last}). "
        "It goes on on the server: wait again, or cancel it.",
        job=job.job,
        job_id=job.job_id,
    )
