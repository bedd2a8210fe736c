"""The waiter of N jobs (``_client/wait.py``), driven directly: a fake clock, no I/O, no sleep.

``wait_for_job`` (test_wait.py), the command line's ``watch`` (tests/cli/test_watch.py) and
a run's ``as_completed``/``wait`` (tests/runs/test_polling.py) are its callers; here are
its rules alone.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lmms_eval_client import (
    APIConnectionError,
    AuthenticationError,
    InternalServerError,
    InvalidArgumentError,
    JobCancelledError,
    JobFailedError,
    JobInfo,
    JobNotFoundError,
    LmmsEvalError,
    ServerUnreachableError,
    WaitTimeoutError,
)
from lmms_eval_client._client.wait import (
    FIRST_POLL_PAUSE,
    Deadline,
    Outcome,
    WaitedJob,
    Waiter,
    progress_line,
    timeout_message,
)

from ..support import FakeClock, job_json


def info(job_id: str, status: str, **fields: Any) -> JobInfo:
    return JobInfo.model_validate(job_json(status, job_id=job_id, **fields))


def status_error(kind: type[LmmsEvalError], code: int, job_id: str = "a") -> Any:
    response = httpx.Response(code, request=httpx.Request("GET", f"http://h/jobs/{job_id}"))
    if kind is JobNotFoundError:
        return JobNotFoundError(
            "Job not found", response=response, detail="", body=None, job_id=job_id
        )
    return kind("refused", response=response, detail="", body=None)  # type: ignore[call-arg]


def waiter_of(
    clock: FakeClock, *ids: str, interval: float = 1.0, timeout: float | None = None, **kw: Any
) -> Waiter[WaitedJob]:
    return Waiter([WaitedJob(i) for i in ids], interval, timeout, clock=clock, **kw)


# -- the deadline ------------------------------------------------------------------------


def test_the_pause_starts_short_and_doubles_up_to_the_interval() -> None:
    # A job refused or finished at once is seen at once; a long one is polled every 5 s.
    clock = FakeClock()
    deadline = Deadline(5.0, None, clock)
    assert deadline.at is None
    delays = [deadline.next_delay() for _ in range(7)]
    assert delays == [FIRST_POLL_PAUSE, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    clock.advance(10**6)
    assert deadline.next_delay() == 5.0  # without a timeout, never over


def test_an_interval_shorter_than_the_first_pause_is_every_pause() -> None:
    deadline = Deadline(0.1, None, FakeClock())
    assert [deadline.next_delay() for _ in range(3)] == [0.1, 0.1, 0.1]


def test_the_delay_is_the_pause_cut_to_the_time_left_then_none() -> None:
    clock = FakeClock(start=50.0)
    deadline = Deadline(3.0, 10.0, clock)
    assert deadline.at == 60.0
    delays = []
    while (delay := deadline.next_delay()) is not None:
        assert not deadline.passed()
        delays.append(delay)
        clock.sleep(delay)
    assert delays == [0.25, 0.5, 1.0, 2.0, 3.0, 3.0, 0.25] and clock.now == 60.0
    assert deadline.passed()


def test_a_timeout_of_zero_has_no_time_left_at_once() -> None:
    assert Deadline(1.0, 0.0, FakeClock()).next_delay() is None


def test_the_one_timeout_message() -> None:
    message = timeout_message("2 job(s) of the run", 0.5, "pending: seq 2", "Iterate again.")
    assert (
        message
        == "2 job(s) of the run did not finish within 0.5 s (pending: seq 2). Iterate again."
    )


@pytest.mark.parametrize(
    ("interval", "timeout"),
    [(0, None), (-1, None), (float("nan"), None), ("5", None), (True, None), (1e8, None),
     (1, -1), (1, float("nan")), (1, "10"), (1, True), (1, 10**400)],
    ids=repr,
)  # fmt: skip
def test_bad_arguments_are_refused(interval: object, timeout: object) -> None:
    with pytest.raises(InvalidArgumentError):
        Waiter([WaitedJob("a")], interval, timeout)


# -- terminal states, unknown ones, what changed --------------------------------------------


def test_every_terminal_state_ends_its_job_only() -> None:
    clock = FakeClock()
    waiter = waiter_of(clock, "a", "b", "c", "d")
    a, b, c, d = waiter.jobs
    assert waiter.observe(a, info("a", "completed", result={})) is True
    assert waiter.observe(b, info("b", "failed", error="ValueError: boom")) is True
    assert waiter.observe(c, info("c", "cancelled")) is True
    assert waiter.observe(d, info("d", "running")) is True  # a first sight is a change
    assert [w.outcome for w in waiter.jobs] == [
        Outcome.COMPLETED, Outcome.FAILED, Outcome.CANCELLED, None,
    ]  # fmt: skip
    assert waiter.pending() == [d]
    assert a.result().status == "completed" and a.error is None and a.ended == clock.now
    assert isinstance(b.error, JobFailedError) and b.error.reason == "ValueError: boom"
    with pytest.raises(JobFailedError):
        b.result()
    with pytest.raises(JobCancelledError):
        c.result()
    with pytest.raises(RuntimeError, match="has not ended"):
        d.result()


def test_an_unknown_status_is_in_progress() -> None:
    waiter = waiter_of(FakeClock(), "a")
    (a,) = waiter.jobs
    assert waiter.observe(a, info("a", "preempted")) is True
    assert a.outcome is None and waiter.next_delay() == FIRST_POLL_PAUSE


def test_only_a_change_of_status_or_queue_position_is_a_change() -> None:
    waiter = waiter_of(FakeClock(), "a")
    (a,) = waiter.jobs
    seen = [
        waiter.observe(a, job)
        for job in (
            info("a", "queued", position_in_queue=2),
            info("a", "queued", position_in_queue=2),
            info("a", "queued", position_in_queue=1),
            info("a", "running"),
            info("a", "running", started_at="later"),
        )
    ]
    assert seen == [True, False, True, True, False]
    assert a.position is None  # running: no position


def test_the_progress_line_is_lmms_evals() -> None:
    waited = WaitedJob("0123456789abcdef")
    assert progress_line(waited) == "Job 01234567... polling"
    for job, line in (
        (info(waited.job_id, "queued", position_in_queue=0), "queued (position: 0)"),
        (info(waited.job_id, "queued"), "queued (position: ?)"),
        (info(waited.job_id, "running"), "running"),
        (info(waited.job_id, "preempted"), "preempted"),
        (info(waited.job_id, "completed"), "completed!"),
    ):
        waited.observe(job)
        assert progress_line(waited) == f"Job 01234567... {line}"


# -- failed polls ---------------------------------------------------------------------------


def test_no_deadline_and_never_an_answer_raises_at_once() -> None:
    waiter = waiter_of(FakeClock(), "a")
    assert waiter.may_retry_poll is False  # one request, not every retry of it
    with pytest.raises(APIConnectionError):
        waiter.setback(waiter.jobs[0], APIConnectionError("refused"))


def test_no_deadline_rides_out_a_connection_failure_after_an_answer() -> None:
    waiter = waiter_of(FakeClock(), "a", "b")
    a, b = waiter.jobs
    waiter.observe(a, info("a", "running"))  # the server answered once: for every job
    assert waiter.may_retry_poll is True
    refused = APIConnectionError("refused")
    assert waiter.setback(b, refused) is False
    assert b.setback is refused and b.outcome is None
    waiter.observe(b, info("b", "running"))
    assert b.setback is None  # cleared by the next answer


def test_a_503_is_an_answer_and_transient() -> None:
    waiter = waiter_of(FakeClock(), "a")
    (a,) = waiter.jobs
    assert waiter.setback(a, status_error(InternalServerError, 503)) is False
    assert waiter.may_retry_poll is True
    assert waiter.setback(a, APIConnectionError("refused")) is False


def test_an_error_that_says_where_the_job_is_counts_as_an_answer() -> None:
    waiter = waiter_of(FakeClock(), "a")
    (a,) = waiter.jobs
    down = ServerUnreachableError("down", server="http://h", job_id="a")
    assert waiter.setback(a, down, answered=True) is False
    assert a.setback is down


def test_with_a_deadline_every_transient_failure_is_ridden_out() -> None:
    waiter = waiter_of(FakeClock(), "a", timeout=10)
    assert waiter.may_retry_poll is True
    assert waiter.setback(waiter.jobs[0], APIConnectionError("refused")) is False


def test_a_404_ends_that_job_only() -> None:
    waiter = waiter_of(FakeClock(), "a", "b")
    a, b = waiter.jobs
    gone = status_error(JobNotFoundError, 404)
    assert waiter.setback(a, gone) is True
    assert a.outcome is Outcome.NOT_FOUND and a.error is gone
    assert waiter.pending() == [b]
    with pytest.raises(JobNotFoundError):
        a.result()


def test_a_failure_that_is_not_transient_is_raised() -> None:
    waiter = waiter_of(FakeClock(), "a", timeout=10)
    with pytest.raises(AuthenticationError):
        waiter.setback(waiter.jobs[0], status_error(AuthenticationError, 401))


def test_what_is_transient_can_be_said() -> None:
    waiter = waiter_of(FakeClock(), "a", timeout=10, transient=lambda error: False)
    with pytest.raises(APIConnectionError):
        waiter.setback(waiter.jobs[0], APIConnectionError("refused"))


# -- the end of the wait --------------------------------------------------------------------


def test_the_wait_is_over_when_no_job_is_pending() -> None:
    waiter = waiter_of(FakeClock(), "a", timeout=100)
    waiter.observe(waiter.jobs[0], info("a", "completed"))
    assert waiter.next_delay() is None
    assert waiter.time_out() == []  # the deadline has not passed: nothing timed out


def test_the_deadline_times_out_the_pending_jobs_with_what_was_last_seen() -> None:
    clock = FakeClock()
    waiter = waiter_of(clock, "a", "b", "c", interval=1.0, timeout=3.0)
    a, b, c = waiter.jobs
    sleeps = []
    assert waiter.time_out() == []  # not before the deadline
    while True:
        waiter.observe(a, info("a", "running"))
        if b.outcome is None:
            waiter.observe(b, info("b", "completed"))
        waiter.setback(c, APIConnectionError("refused"))
        delay = waiter.next_delay()
        if delay is None:
            break
        sleeps.append(delay)
        clock.sleep(delay)
    assert sleeps == [0.25, 0.5, 1.0, 1.0, 0.25]
    assert waiter.time_out() == [a, c]
    assert (a.outcome, b.outcome, c.outcome) == (
        Outcome.TIMEOUT,
        Outcome.COMPLETED,
        Outcome.TIMEOUT,
    )
    assert isinstance(a.error, WaitTimeoutError) and isinstance(a.error, TimeoutError)
    assert str(a.error) == (
        "Job a did not finish within 3 s (last status: running). "
        "It goes on on the server: wait again, or cancel it."
    )
    assert a.error.job is a.job and a.error.job_id == "a" and a.error.__cause__ is None
    assert isinstance(c.error, WaitTimeoutError) and c.error.job is None
    assert "(no poll succeeded; last poll failed: refused)" in str(c.error)
    assert isinstance(c.error.__cause__, APIConnectionError)  # raise keeps the cause
    with pytest.raises(WaitTimeoutError) as raised:
        c.result()
    assert isinstance(raised.value.__cause__, APIConnectionError)
    assert a.ended == c.ended == clock.now
    assert waiter.time_out() == []  # once


def test_timeout_zero_looks_once() -> None:
    waiter = waiter_of(FakeClock(), "a", timeout=0)
    waiter.observe(waiter.jobs[0], info("a", "queued", position_in_queue=0))
    assert waiter.next_delay() is None
    assert [w.job_id for w in waiter.time_out()] == ["a"]


def test_the_jobs_may_carry_more_for_a_view() -> None:
    class Shown(WaitedJob):
        rows: int = 0

    waiter = Waiter([Shown("a")], 1, None, clock=FakeClock())
    (shown,) = waiter.pending()
    assert isinstance(shown, Shown)  # the waiter keeps the caller's objects
