"""Waiting for several jobs (``watch``) and the two views,
driven by a scripted client and a fake clock: no server, no sleeping."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from rich.console import Console

from lmms_eval_client import (
    APIConnectionError,
    AuthenticationError,
    EvalClient,
    EvalRun,
    JobInfo,
    JobNotFoundError,
    LmmsEvalError,
)
from lmms_eval_client.cli.exit_codes import ExitCode
from lmms_eval_client.cli.live import LineView, LiveView, format_seconds
from lmms_eval_client.cli.run_view import watch_run
from lmms_eval_client.cli.watch import Outcome, Tracked, watch
from lmms_eval_client.testing import LocalServer

Step = JobInfo | LmmsEvalError


def job(job_id: str, status: str, **fields: object) -> JobInfo:
    return JobInfo.model_validate(
        {
            "job_id": job_id,
            "status": status,
            "created_at": "2026-12-02T05:00:00",
            "request": {"model": "qwen2_vl", "tasks": ["mme"]},
            **fields,
        }
    )


def status_error(kind: type[LmmsEvalError], code: int, job_id: str = "a") -> LmmsEvalError:
    request = httpx.Request("GET", f"http://h/jobs/{job_id}")
    response = httpx.Response(code, request=request)
    if kind is JobNotFoundError:
        return JobNotFoundError(
            "Job not found", response=response, detail="", body=None, job_id=job_id
        )
    return cast(Callable[..., LmmsEvalError], kind)(
        "refused", response=response, detail="", body=None
    )


class Script:
    """A client whose get_job answers from a script per job, and a clock that sleeps."""

    def __init__(self, steps: dict[str, list[Step]]) -> None:
        self.steps = steps
        self.now = 100.0
        self.sleeps: list[float] = []
        self.polls: list[str] = []

    def _poll_waited(
        self, job_id: str, deadline: float | None, retry: bool, server: int | None = None
    ) -> JobInfo:
        return self.get_job(job_id)  # (the script's clock: its deadline is not the client's)

    def get_job(self, job_id: str) -> JobInfo:
        self.polls.append(job_id)
        steps = self.steps[job_id]
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if isinstance(step, LmmsEvalError):
            raise step
        return step

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def changed(self, tracked: Tracked) -> None:
        self.events.append(("changed", tracked.job_id, tracked.status))

    def setback(self, tracked: Tracked) -> None:
        self.events.append(("setback", tracked.job_id, tracked.detail))


def run(
    script: Script, ids: list[str], timeout: float | None = None, interval: float = 1.0
) -> tuple[list[Tracked], Recorder]:
    tracked = [Tracked(job_id, since=script.now) for job_id in ids]
    view = Recorder()
    watch(
        cast(EvalClient, script),
        tracked,
        view,
        poll_interval=interval,
        timeout=timeout,
        clock=script.clock,
        sleep=script.sleep,
    )
    return tracked, view


def test_every_terminal_state_ends_its_job_and_the_others_go_on() -> None:
    script = Script(
        {
            "a": [job("a", "queued", position_in_queue=1), job("a", "running"),
                  job("a", "completed", result={"org__x": {"results": "/r.json", "samples": []}})],
            "b": [job("b", "running"), job("b", "failed", error="ValueError: boom")],
            "c": [job("c", "cancelled")],
        }
    )  # fmt: skip
    tracked, view = run(script, ["a", "b", "c"])
    a, b, c = tracked
    assert (a.outcome, b.outcome, c.outcome) == (
        Outcome.COMPLETED,
        Outcome.FAILED,
        Outcome.CANCELLED,
    )
    assert (a.exit_code, b.exit_code, c.exit_code) == (0, 1, 3)
    assert b.detail == "ValueError: boom"
    assert a.detail == "results: org__x"
    # a finished job is polled no more: c once, b twice, a three times
    assert script.polls.count("c") == 1 and script.polls.count("b") == 2
    assert script.polls.count("a") == 3
    assert ("changed", "a", "queued") in view.events
    assert ("changed", "c", "cancelled") in view.events
    assert a.elapsed(script.now) == 0.75  # stopped when it ended, after two pauses


def test_a_change_of_queue_position_is_shown_once() -> None:
    script = Script(
        {
            "a": [job("a", "queued", position_in_queue=2), job("a", "queued", position_in_queue=2),
                  job("a", "queued", position_in_queue=1), job("a", "completed")],
        }
    )  # fmt: skip
    _, view = run(script, ["a"])
    assert [e for e in view.events if e[0] == "changed"] == [
        ("changed", "a", "queued"),
        ("changed", "a", "queued"),
        ("changed", "a", "completed"),
    ]


def test_an_unknown_status_keeps_waiting() -> None:
    script = Script({"a": [job("a", "preempted"), job("a", "completed")]})
    (a,), _ = run(script, ["a"])
    assert a.outcome is Outcome.COMPLETED and len(script.sleeps) == 1


def test_the_deadline_times_out_the_pending_jobs_only() -> None:
    script = Script({"a": [job("a", "running")], "b": [job("b", "completed")]})
    (a, b), _ = run(script, ["a", "b"], timeout=2.5)
    assert a.outcome is Outcome.TIMEOUT and a.exit_code == ExitCode.TIMEOUT
    assert b.outcome is Outcome.COMPLETED
    assert script.sleeps == [0.25, 0.5, 1.0, 0.75]  # the pause, cut to the time left
    assert a.error is not None and "did not finish within 2.5 s" in str(a.error)
    assert "last status: running" in str(a.error)


def test_timeout_zero_looks_once() -> None:
    script = Script({"a": [job("a", "queued", position_in_queue=0)]})
    (a,), _ = run(script, ["a"], timeout=0)
    assert a.outcome is Outcome.TIMEOUT and script.sleeps == [] and script.polls == ["a"]


def test_a_server_that_never_answered_fails_at_once_without_a_deadline() -> None:
    script = Script({"a": [APIConnectionError("refused")]})
    with pytest.raises(APIConnectionError):
        run(script, ["a"])
    assert script.polls == ["a"]


def test_a_server_that_answered_once_is_ridden_out() -> None:
    script = Script(
        {"a": [job("a", "running"), APIConnectionError("restarting"), job("a", "completed")]}
    )
    (a,), view = run(script, ["a"])
    assert a.outcome is Outcome.COMPLETED
    assert ("setback", "a", "poll failed, retrying: restarting") in view.events
    assert a.setback is None  # cleared by the next answer


def test_with_a_deadline_setbacks_are_ridden_out_until_it() -> None:
    script = Script({"a": [APIConnectionError("refused")]})
    (a,), _ = run(script, ["a"], timeout=1.5)
    assert a.outcome is Outcome.TIMEOUT
    assert "no poll succeeded; last poll failed: refused" in str(a.error)


def test_a_proxy_503_is_transient_but_a_401_is_not() -> None:
    from lmms_eval_client import InternalServerError

    flaky = Script({"a": [status_error(InternalServerError, 503), job("a", "completed")]})
    (a,), _ = run(flaky, ["a"])
    assert a.outcome is Outcome.COMPLETED
    denied = Script({"a": [status_error(AuthenticationError, 401)]})
    with pytest.raises(AuthenticationError):
        run(denied, ["a"], timeout=10)


def test_an_unknown_job_ends_as_not_found_and_the_others_go_on() -> None:
    script = Script({"a": [status_error(JobNotFoundError, 404)], "b": [job("b", "completed")]})
    (a, b), _ = run(script, ["a", "b"])
    assert a.outcome is Outcome.NOT_FOUND and a.exit_code == ExitCode.NOT_FOUND
    assert b.outcome is Outcome.COMPLETED


def test_the_json_record() -> None:
    script = Script({"a": [job("a", "failed", error="RuntimeError: CUDA out of memory")]})
    (a,), _ = run(script, ["a"])
    record = a.to_json(script.now)
    assert record["outcome"] == "failed" and record["exit_code"] == 1
    assert record["error"] == "job a failed: RuntimeError: CUDA out of memory"
    assert isinstance(record["job"], dict) and record["job"]["status"] == "failed"


# -- the views ---------------------------------------------------------------------------


def test_line_view_prints_one_line_per_change() -> None:
    stream = io.StringIO()
    script = Script(
        {"a": [job("a", "queued", position_in_queue=1), job("a", "queued", position_in_queue=1),
               job("a", "failed", error="E: bad")]}
    )  # fmt: skip
    tracked = [Tracked("a", since=script.now)]
    view = LineView(stream, clock=script.clock)
    watch(
        cast(EvalClient, script), tracked, view, poll_interval=3, timeout=None,
        clock=script.clock, sleep=script.sleep,
    )  # fmt: skip
    lines = [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == ["a queued (position 1)", "a failed after 0.8s: E: bad"]  # 0.25 + 0.5 s


def test_line_view_prints_a_failing_poll_once_while_it_fails_the_same_way() -> None:
    # Before: a line at each failed poll (a server down for an hour: a line every few
    # seconds in a CI log, the same error each time).
    stream = io.StringIO()
    down, gone = APIConnectionError("refused"), APIConnectionError("restarting")
    script = Script(
        {"a": [job("a", "queued", position_in_queue=1), down, down, down,
               job("a", "queued", position_in_queue=1), down, gone, gone,
               job("a", "completed")]}
    )  # fmt: skip
    tracked = [Tracked("a", since=script.now)]
    view = LineView(stream, clock=script.clock)
    watch(
        cast(EvalClient, script), tracked, view, poll_interval=3, timeout=None,
        clock=script.clock, sleep=script.sleep,
    )  # fmt: skip
    lines = [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()]
    assert lines[:-1] == [
        "queued (position 1)",
        "poll failed, retrying: refused",
        "poll failed, retrying: refused",  # (another outage: said again)
        "poll failed, retrying: restarting",  # (another error)
    ]
    assert lines[-1].startswith("completed after")


def test_live_view_renders_status_queue_and_elapsed() -> None:
    now = [10.0]
    tracked = [Tracked("job-1", since=0.0), Tracked("job-2", since=0.0)]
    tracked[0].observe(job("job-1", "running"))
    tracked[1].observe(job("job-2", "queued", position_in_queue=0))
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    view = LiveView(tracked, server="http://h:8000", console=console, clock=lambda: now[0])
    console.print(view.render())
    text = out.getvalue()
    assert "Waiting for 2 of 2 job(s) on http://h:8000" in text
    row1 = next(line for line in text.splitlines() if "job-1" in line).split()
    row2 = next(line for line in text.splitlines() if "job-2" in line).split()
    assert row1 == ["job-1", "running", "10.0s"]
    assert row2 == ["job-2", "queued", "0", "10.0s"]


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (0, 59.94, 60, 3599, 3600 * 25)] == [
        "0.0s",
        "59.9s",
        "1m00s",
        "59m59s",
        "25h00m",
    ]


# -- runs watch: the run's poll loop sleeps by the same rule -------------------------------


@dataclass
class _Job:
    seq: int
    state: str = "queued"
    server: str = "http://h"
    harvested: bool = False

    @property
    def pending(self) -> bool:
        return self.state in ("queued", "running")


class _Run:
    """An EvalRun whose one job never finishes."""

    def __init__(self) -> None:
        self.job = _Job(1)

    def receive(self) -> list[Any]:
        return []

    def jobs(self) -> list[_Job]:
        return [self.job]


class _Quiet:
    def state(self, job: Any) -> None: ...

    def outcome(self, outcome: Any) -> None: ...

    def jobs(self, jobs: Any, pending: int) -> None: ...


def test_runs_watch_sleeps_the_pause_cut_to_the_time_left() -> None:
    script = Script({})
    jobs = watch_run(
        cast(EvalRun, _Run()), ["http://h"], _Quiet(), poll_interval=2, timeout=5,
        clock=script.clock, sleep=script.sleep,
    )  # fmt: skip
    assert script.sleeps == [0.25, 0.5, 1.0, 2.0, 1.25]  # a fast first look, then every 2 s
    assert [job.pending for job in jobs] == [True]


class _GoneAfterOne(_Quiet):
    """A reader that goes away after one outcome (``runs watch --json | head -1``)."""

    def __init__(self) -> None:
        self.shown: list[int] = []

    def outcome(self, outcome: Any) -> None:
        if self.shown:
            raise BrokenPipeError(32, "Broken pipe")
        self.shown.append(outcome.job.seq)


def test_runs_watch_takes_only_the_outcomes_it_showed(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # Before: harvest() took all three, then the pipe broke at the second: the outcomes of
    # seq 2 and 3 were lost to every reader (an adversarial try).
    ledger = tmp_path / "run.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.05) as run:
        for step in (1, 2, 3):
            run.submit(
                "qwen2_vl", ["mme"], {"pretrained": f"m-{step}", "sim_duration": 0.01},
                labels={"step": step},
            )  # fmt: skip
        run.wait(timeout=60)
        reader = _GoneAfterOne()
        with pytest.raises(BrokenPipeError):
            watch_run(run, [local_server.url], reader, poll_interval=0.05, timeout=10)
        assert reader.shown == [1]
        assert {job.seq: job.harvested for job in run.jobs()} == {1: True, 2: False, 3: False}
        assert sorted(outcome.job.seq for outcome in run.harvest()) == [2, 3]
