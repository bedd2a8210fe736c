"""wait_for_job: terminal statuses, unknown statuses, the deadline, progress output, arguments.

No test sleeps: the clients sleep through ``_sleep`` and read ``_clock``, both the fake clock.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
import respx

from lmms_eval_client import (
    APIConnectionError,
    InvalidArgumentError,
    JobCancelledError,
    JobError,
    JobFailedError,
    JobInfo,
    JobNotFoundError,
    LmmsEvalError,
    WaitTimeoutError,
)

from ..support import JOB_ID, Caller, FakeClock, job_json

PATH = f"/jobs/{JOB_ID}"


def polls(*bodies: dict[str, Any]) -> list[httpx.Response]:
    return [httpx.Response(200, json=body) for body in bodies]


async def test_queued_running_completed(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(PATH).mock(
        side_effect=polls(
            job_json("queued", position_in_queue=0),
            job_json("running"),
            job_json("completed", result={}),
        )
    )
    job = await caller.wait_for_job(JOB_ID, poll_interval=2, verbose=False)
    assert isinstance(job, JobInfo)
    assert job.status == "completed"
    assert route.call_count == 3
    assert clock.sleeps == [0.25, 0.5]  # the first pauses are short, whatever the interval


async def test_failed_raises_job_failed_error(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    error = "CUDA out of memory. Tried to allocate 2.00 GiB"
    mock.get(PATH).mock(side_effect=polls(job_json("running"), job_json("failed", error=error)))
    with pytest.raises(JobFailedError) as info:
        await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    exc = info.value
    assert isinstance(exc, RuntimeError)  # what lmms-eval's client raised
    assert type(exc) is JobFailedError  # the documented class itself, not a subclass
    assert not isinstance(exc, JobCancelledError)
    assert isinstance(exc.job, JobInfo)
    assert exc.job.status == "failed"
    assert exc.error == error
    assert exc.job_id == JOB_ID
    assert error in str(exc)
    assert JOB_ID in str(exc)


async def test_failed_without_error_text(caller: Caller, mock: respx.MockRouter) -> None:
    mock.get(PATH).respond(200, json=job_json("failed", error=None))
    with pytest.raises(JobFailedError) as info:
        await caller.wait_for_job(JOB_ID, verbose=False)
    assert info.value.error is None


async def test_cancelled_raises_job_cancelled_error(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    # lmms-eval's own client polled a cancelled job forever
    route = mock.get(PATH).mock(
        side_effect=polls(job_json("queued", position_in_queue=1), job_json("cancelled"))
    )
    with pytest.raises(JobCancelledError) as info:
        await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    assert isinstance(info.value, RuntimeError)
    assert info.value.job.status == "cancelled"
    assert info.value.job_id == JOB_ID
    assert route.call_count == 2


async def test_unknown_status_keeps_polling(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(PATH).mock(
        side_effect=polls(job_json("preempted"), job_json("preempted"), job_json("completed"))
    )
    job = await caller.wait_for_job(JOB_ID, poll_interval=4, verbose=False)
    assert job.status == "completed"
    assert route.call_count == 3
    assert clock.sleeps == [0.25, 0.5]


async def test_no_timeout_waits_as_long_as_it_takes(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(PATH).mock(
        side_effect=polls(*[job_json("running")] * 50, job_json("completed"))
    )
    await caller.wait_for_job(JOB_ID, poll_interval=60, timeout=None, verbose=False)
    assert route.call_count == 51
    assert clock.sleeps == [0.25, 0.5, 1, 2, 4, 8, 16, 32] + [60] * 42


def stuck_running(clock: FakeClock, request_seconds: float = 0.0):
    """A side effect: the job is running forever; each poll is numbered in started_at."""
    count = 0

    def respond(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        clock.advance(request_seconds)
        return httpx.Response(200, json=job_json("running", started_at=f"poll-{count}"))

    return respond


async def test_deadline_sleeps_the_pause_cut_to_the_time_left(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(PATH).mock(side_effect=stuck_running(clock))
    start = clock.now
    with pytest.raises(WaitTimeoutError) as info:
        await caller.wait_for_job(JOB_ID, poll_interval=3, timeout=10, verbose=False)
    assert clock.sleeps == [0.25, 0.5, 1, 2, 3, 3, 0.25]
    assert route.call_count == 8
    assert clock.now - start == 10
    exc = info.value
    assert isinstance(exc, TimeoutError)
    assert isinstance(exc, LmmsEvalError)
    assert isinstance(exc.job, JobInfo)
    assert exc.job.started_at == "poll-8"  # the last state seen, not the first
    assert exc.job_id == JOB_ID
    assert JOB_ID in str(exc)


async def test_deadline_counts_request_time(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    # each poll takes 2 s: t=2 sleep 0.25, t=4.25 sleep 0.5, t=6.75 sleep 1, t=9.75 sleep
    # the 0.25 s left, t=12 past the deadline of 10
    route = mock.get(PATH).mock(side_effect=stuck_running(clock, request_seconds=2))
    with pytest.raises(WaitTimeoutError):
        await caller.wait_for_job(JOB_ID, poll_interval=3, timeout=10, verbose=False)
    assert clock.sleeps == [0.25, 0.5, 1, 0.25]
    assert route.call_count == 5


async def test_timeout_zero_polls_once(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    # lmms-eval's client took timeout=0 as "no timeout"
    route = mock.get(PATH).mock(side_effect=stuck_running(clock))
    with pytest.raises(WaitTimeoutError) as info:
        await caller.wait_for_job(JOB_ID, timeout=0, verbose=False)
    assert route.call_count == 1
    assert clock.sleeps == []
    assert info.value.job.started_at == "poll-1"


async def test_timeout_zero_returns_a_completed_job(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    mock.get(PATH).respond(200, json=job_json("completed"))
    job = await caller.wait_for_job(JOB_ID, timeout=0, verbose=False)
    assert job.status == "completed"


async def test_job_not_found_while_waiting(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    # evicted, or the server restarted
    mock.get(PATH).mock(
        side_effect=[
            httpx.Response(200, json=job_json("running")),
            httpx.Response(404, json={"detail": "Job not found"}),
        ]
    )
    with pytest.raises(JobNotFoundError) as info:
        await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    assert info.value.job_id == JOB_ID


LABEL = f"Job {JOB_ID[:8]}..."


async def test_unbounded_wait_on_a_server_that_never_answered_raises(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    # timeout=None and not one successful poll: a wrong base_url must not hang forever.
    route = mock.get(PATH).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    # One poll, not retried: before the server ever answered, an unbounded wait fails after
    # one request (a stall must not cost three network timeouts), and does not wait on.
    assert route.call_count == 1
    assert clock.sleeps == []


async def test_unbounded_wait_rides_out_an_outage_after_the_first_answer(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(PATH).mock(
        side_effect=[
            httpx.Response(200, json=job_json("running")),
            *[httpx.ConnectError("refused")] * 9,
            httpx.Response(200, json=job_json("completed")),
        ]
    )
    done = await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    assert done.status == "completed"
    assert route.call_count == 11


async def test_verbose_prints_one_line_per_change(
    caller: Caller, mock: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    mock.get(PATH).mock(
        side_effect=polls(
            job_json("queued", position_in_queue=1),
            job_json("queued", position_in_queue=1),
            job_json("queued", position_in_queue=0),
            job_json("running"),
            job_json("running"),
            job_json("running"),
            job_json("completed"),
        )
    )
    await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=True)
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{LABEL} queued (position: 1)",
        f"{LABEL} queued (position: 0)",
        f"{LABEL} running",
        f"{LABEL} completed!",
    ]
    assert captured.err == ""


async def test_verbose_unknown_position_and_status(
    caller: Caller, mock: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    mock.get(PATH).mock(
        side_effect=polls(
            job_json("queued"), job_json("preempted"), job_json("preempted"), job_json("completed")
        )
    )
    await caller.wait_for_job(JOB_ID, poll_interval=1)  # verbose is the default
    assert capsys.readouterr().out.splitlines() == [
        f"{LABEL} queued (position: ?)",
        f"{LABEL} preempted",
        f"{LABEL} completed!",
    ]


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
async def test_quiet_prints_nothing(
    caller: Caller, mock: respx.MockRouter, capsys: pytest.CaptureFixture[str], final: str
) -> None:
    mock.get(PATH).mock(
        side_effect=polls(
            job_json("queued", position_in_queue=0), job_json("running"), job_json(final)
        )
    )
    with contextlib.suppress(JobError):
        await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"poll_interval": 0},
        {"poll_interval": -1},
        {"poll_interval": float("nan")},
        {"poll_interval": float("inf")},
        {"poll_interval": "5"},
        {"poll_interval": None},
        {"poll_interval": True},
        {"timeout": -1},
        {"timeout": -0.001},
        {"timeout": float("nan")},
        {"timeout": float("inf")},
        {"timeout": "10"},
        {"timeout": True},
    ],
    ids=repr,
)
async def test_bad_wait_arguments_send_nothing(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock, kwargs: dict[str, Any]
) -> None:
    (name,) = kwargs
    with pytest.raises(InvalidArgumentError, match=f"^{name} must be"):
        await caller.wait_for_job(JOB_ID, verbose=False, **kwargs)
    assert mock.calls.call_count == 0
    assert clock.sleeps == []
