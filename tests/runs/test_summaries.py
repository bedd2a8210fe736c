"""The run's default summary reads the results files a completed job names, by itself at
each poll that sees a job complete: what the server says there must not hang it, make it
read without bounds or follow a URL, and a metric JSON cannot hold must not lose it
(issue 20, items 4, 5 and 8)."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import JobCompleted
from lmms_eval_client.testing import LocalServer

from ..results._untrusted import counting_listener, fifo_watchdog
from ..results.test_non_finite import write_non_finite
from ..servers import loopback_http, poll_until
from ._fake import BASE, FakeServer
from ._support import QWEN, LedgerTarget
from .conftest import MakeRunner


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


async def completed_at(server: FakeServer, runner: object, results: str) -> JobCompleted:
    """Submit one job, complete it with ``results`` as its results file, harvest it."""
    job = await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": 1})  # type: ignore[attr-defined]
    server.finish(server.start_next() or "")
    server.jobs[str(job.job_id)]["result"] = {"m": {"results": results, "samples": []}}
    (outcome,) = await runner.harvest()  # type: ignore[attr-defined]
    assert isinstance(outcome, JobCompleted)
    return outcome


async def test_a_fifo_as_results_file_does_not_hang_harvest(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    fifo = tmp_path / "20261202_055237_results.json"
    with fifo_watchdog(fifo) as fired:
        outcome = await completed_at(server, make_runner(BASE), str(fifo))
    assert not fired, "harvest() blocked opening the FIFO until the watchdog wrote to it"
    assert outcome.summary is None  # not readable here: no summary, the run goes on


async def test_a_url_as_results_file_is_not_followed_by_the_summary(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    with counting_listener() as (port, arrivals):
        url = f"ftp://127.0.0.1:{port}/evals/a/m/20261202_055237_results.json"
        outcome = await completed_at(server, make_runner(BASE), url)
        came = arrivals.before_now(port)
    assert came == [], "the run's summary connected where the server's answer said"
    assert outcome.summary is None


async def test_nan_and_infinite_metrics_keep_the_summary(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = write_non_finite(tmp_path)
    runner = make_runner(BASE, ledger_target)
    outcome = await completed_at(server, runner, str(path))
    summary = {"m": {"t": {"acc,none": "NaN", "f1,none": "-Infinity", "em,none": 0.5}}}
    assert outcome.summary == summary
    assert (await runner.job(outcome.job.seq)).summary == summary  # as the ledger has it


async def test_a_summary_json_cannot_hold_is_logged_not_raised(
    server: FakeServer, make_runner: MakeRunner, caplog: pytest.LogCaptureFixture
) -> None:
    runner = make_runner(BASE, summarize=lambda info: {"acc": float("nan")})
    outcome = await completed_at(server, runner, "/out/x_results.json")  # harvest() returns
    assert outcome.summary is None
    assert "summary must be JSON" in caplog.text


async def test_a_summary_a_killed_process_missed_is_read_by_the_next_run(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    # An adversarial try of the trackers: killed between recording a job completed and its
    # summary (the results read in between), a process left the job completed without
    # one; completed jobs are not polled again, so every rerun kept its metrics out of
    # metrics(), the sinks and `runs export` for good, and said nothing.
    first = make_runner(local_server.url)
    job = await first.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 100})
    await poll_until(
        lambda: loopback_job(local_server.url, str(job.job_id)),
        lambda info: info["status"] == "completed",
        what="the job to complete",
    )
    poller = first.run._poller
    poller._record_summary = killed_before(poller._record_summary)  # type: ignore[method-assign]
    await first.ready()
    assert [j.state for j in await first.jobs()] == ["completed"]
    assert await first.metrics() == []  # what the killed process left
    rerun = make_runner(local_server.url)
    await rerun.ready()
    rows = await rerun.metrics()
    assert {(row.seq, row.task) for row in rows} == {(job.seq, "mme")}
    await rerun.ready()  # read once: a job without results is not read at every poll
    assert len(await rerun.metrics()) == len(rows)


def killed_before(record: Any) -> Any:
    """``record`` (the poller's summary write) doing nothing, sync or async as it was."""
    if inspect.iscoroutinefunction(record):

        async def skipped(*args: Any, **kwargs: Any) -> None:
            return None

        return skipped
    return lambda *args, **kwargs: None


def loopback_job(url: str, job_id: str) -> dict[str, Any]:
    with loopback_http(url) as http:
        return dict(http.get(f"/jobs/{job_id}").raise_for_status().json())


def _remove_result_files(result: Any) -> None:
    """Delete every file a completed job's ``result`` names (read as if from elsewhere)."""
    if isinstance(result, dict):
        for value in result.values():
            _remove_result_files(value)
    elif isinstance(result, list):
        for value in result:
            _remove_result_files(value)
    elif isinstance(result, str) and os.path.isfile(result):
        os.remove(result)


def _raises_bare(info: Any) -> dict[str, Any]:
    raise ValueError()


@pytest.mark.parametrize("how", ["raises", "raises-bare", "results-unreadable"])
async def test_jobs_whose_missed_summary_cannot_be_read_here_are_said_once_a_batch(
    make_runner: MakeRunner,
    local_server: LocalServer,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    # Read again by each run, completed jobs whose results this machine cannot read (a
    # remote server, no path map) warned one by one at every restart: a flood.
    first = make_runner(local_server.url)
    jobs = [await first.submit("qwen2_vl", ["mme"], model_args=QWEN) for _ in range(3)]
    for job in jobs:
        await poll_until(
            lambda job=job: loopback_job(local_server.url, str(job.job_id)),
            lambda info: info["status"] == "completed",
            what="the job to complete",
        )
    poller = first.run._poller
    poller._record_summary = killed_before(poller._record_summary)  # type: ignore[method-assign]
    await first.ready()

    def unreadable(info: Any) -> dict[str, Any]:
        raise OSError("no such file here")

    # A reviewer's find: the default summary (a remote server's results: its files not
    # here) and an exception that says nothing were not counted, and nothing was said.
    options: dict[str, Any] = {"summarize": unreadable}
    if how == "raises-bare":
        options = {"summarize": _raises_bare}
    elif how == "results-unreadable":
        options = {}
        for job in jobs:
            _remove_result_files(loopback_job(local_server.url, str(job.job_id))["result"])
    rerun = make_runner(local_server.url, **options)
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        await rerun.ready()
    said = [r.getMessage() for r in caplog.records if "summar" in r.getMessage()]
    assert len(said) == 1, said
    assert "3 completed job(s)" in said[0] and "seq 1, 2, 3" in said[0]
    why = {"raises": "OSError: no such file here", "raises-bare": "the first: ValueError)"}
    assert why.get(how, "cannot be read here") in said[0], said[0]
