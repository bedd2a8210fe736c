"""Retries by policy where the run cannot see everything at once (the second adversarial try
of pools and runs): two run objects (two processes) polling one ledger retry a failed job
once between them, not once each; a job whose retry cannot be sent (its secrets are only
fingerprints now, and the server forgot it) is handed out as it ended, where a wait waited
for it for ever."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import APIConnectionError, JobLost, RetryOnFailure
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import job_count
from .conftest import MakeRunner
from .test_recovery import Restartable

OOM = "RuntimeError: CUDA out of memory"
RETRY = RetryOnFailure("out of memory", max_attempts=2, lost=True)


async def _resubmit(runner: Any, job: Any) -> None:
    done = runner.run._poller._resubmit(job)
    if inspect.isawaitable(done):
        await done


async def test_two_runs_of_one_ledger_retry_a_failed_job_once_between_them(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    first, second = (make_runner(local_server.url, retry=RETRY) for _ in range(2))
    watching = make_runner(local_server.url)  # no policy: it only polls
    job = await first.submit("qwen2_vl", ["mme"], {"pretrained": "a/b", "sim_error": OOM})
    failed = None
    while failed is None or failed.state != "failed":
        await watching.ready()
        (failed,) = await watching.jobs()
    # ``second`` reads the attempt failed and unretried; ``first`` retries it meanwhile:
    await first.ready()
    assert [j.attempt for j in await first.jobs()] == [1, 2]
    sent = job_count(local_server.url)
    await _resubmit(second, failed)  # as ``second``'s poll would: nothing sent or recorded
    assert job_count(local_server.url) == sent
    jobs = await second.jobs()
    assert [(j.seq, j.attempt, j.retry_of) for j in jobs] == [(1, 1, None), (2, 2, 1)]
    assert jobs[0].retried_by == 2 == job.seq + 1


async def test_a_lost_job_whose_retry_cannot_be_sent_is_handed_out_once_said(
    make_runner: MakeRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = Restartable(LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path))
    try:
        secret = {"pretrained": "a/b", "api_key": "sk-not-kept-in-the-ledger", "sim_duration": 600}
        job = await make_runner(server.url).submit("qwen2_vl", ["mme"], secret)
        server.restart()  # the job is forgotten, its request with it
        # Another process resumes the run with a policy that retries lost jobs:
        resumed = make_runner(server.url, retry=RETRY)
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            result = await resumed.wait(timeout=30)  # before: pending until the timeout
            await resumed.ready()
    finally:
        server.server.stop()
    assert result.pending == [] and [type(o) for o in result.done] == [JobLost]
    assert result.done[0].job.seq == job.seq
    assert caplog.text.count("is not retried: the ledger keeps only fingerprints") == 1
    assert "sk-not-kept" not in caplog.text


class OnlyFirstAttempts(RetryOnFailure):
    """A policy whose ``wants`` says more than its fields: never a third attempt."""

    def wants(self, job: Any) -> bool:
        return job.attempt < 2 and super().wants(job)


async def test_a_policys_own_wants_decides_and_a_failed_echo_read_is_tried_again(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    # The review: the run's copy of the policy dropped a subclass's wants, and one failed
    # read of the server's echo (a timeout, a 503) gave the retry up for good.
    secret = {"pretrained": "a/b", "api_key": "sk-not-kept-0123456789", "sim_error": OOM}
    first = make_runner(local_server.url)
    job = await first.submit("qwen2_vl", ["mme"], secret)
    while (await first.jobs())[0].state != "failed":
        await first.ready()
    resumed = make_runner(local_server.url, retry=OnlyFirstAttempts("memory", max_attempts=5))
    client = resumed.run._client
    real, calls = client._get_job, []

    def once_down(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise APIConnectionError("the server is restarting", request=None)
        return real(*args, **kwargs)

    client._get_job = once_down  # type: ignore[method-assign]
    await resumed.ready()  # the echo cannot be read: tried again at the next poll
    assert [j.attempt for j in await resumed.jobs()] == [1]
    await resumed.ready()
    jobs = await resumed.jobs()
    assert [j.attempt for j in jobs] == [1, 2] and jobs[1].retry_of == job.seq
    while (await resumed.jobs())[1].state != "failed":
        await resumed.ready()
    await resumed.ready()  # OnlyFirstAttempts: no third, though max_attempts is 5
    assert len(await resumed.jobs()) == 2
