"""Waiting for several jobs at once: the polling, the outcomes; no rendering here.

``watch`` polls each pending job once per interval until every job ended or the deadline
passed, and tells a view what changed (``live.py`` draws it). What ends a job's wait, the
deadline and the failed polls are the SDK's ``Waiter`` (``wait_for_job``'s rules): every
terminal status ends a job, an unknown status means "still in progress", the deadline is
monotonic, a poll that fails transiently (the server restarting, a proxy's 502/503/504 or
429) is shown and the wait goes on, but a server that never answered fails at once when
there is no deadline (a wrong ``--server`` must not hang a script).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lmms_eval_client import JobFailedError, LmmsEvalError

from .._client.arguments import check_job_id
from .._client.wait import Outcome, WaitedJob, Waiter
from .exit_codes import ExitCode, one_line

if TYPE_CHECKING:  # annotations only (the pool is imported when several servers are given)
    from pydantic import JsonValue

    from lmms_eval_client import EvalClient, EvalPool

__all__ = ["Outcome", "Tracked", "View", "watch"]


_EXIT_CODES = {
    Outcome.COMPLETED: ExitCode.OK,
    Outcome.FAILED: ExitCode.FAILED,
    Outcome.CANCELLED: ExitCode.CANCELLED,
    Outcome.TIMEOUT: ExitCode.TIMEOUT,
    Outcome.NOT_FOUND: ExitCode.NOT_FOUND,
}


@dataclass
class Tracked(WaitedJob):
    """One job being waited for, as the views show it (what was last seen of it and how
    its wait ended are the waiter's ``WaitedJob``)."""

    since: float = field(kw_only=True)
    """The monotonic time the wait began."""

    @property
    def status(self) -> str:
        """The status to show: the outcome once ended, else the last polled status."""
        if self.outcome is not None:
            return self.outcome.value
        return "polling" if self.job is None else str(self.job.status)

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
            return f"poll failed, retrying: {one_line(self.setback)}"
        if self.outcome is Outcome.COMPLETED and self.job is not None and self.job.result:
            return "results: " + ", ".join(self.job.result)
        return ""

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
        InvalidArgumentError: ``poll_interval`` or ``timeout`` is not a wait's.
    """
    for each in tracked:  # (the poll sends what it is given: wait_for_job checks first too)
        check_job_id(each.job_id)
    waiter = Waiter(tracked, poll_interval, timeout, clock=clock)
    while True:
        for job in waiter.pending():
            try:
                # wait_for_job's poll: the wait's deadline bounds each request (a server
                # that stopped answering held `wait --timeout 2` for three minutes)
                info = client._poll_waited(job.job_id, waiter.deadline, waiter.may_retry_poll)
            except LmmsEvalError as exc:
                if waiter.setback(job, exc):  # raised unless waiting may outlive it
                    view.changed(job)  # its wait ended: the server does not know the job
                elif not job.setback_repeated:  # (a server down an hour: one line)
                    view.setback(job)
                continue
            if waiter.observe(job, info):
                view.changed(job)
        delay = waiter.next_delay()
        if delay is None:
            break
        sleep(delay)
    for job in waiter.time_out():
        view.changed(job)
