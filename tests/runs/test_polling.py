"""Polling that scales, and outcomes as data (respx: no network), both run classes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from lmms_eval_client import (
    FIRST_COMPLETED,
    JobCancelled,
    JobCancelledError,
    JobCompleted,
    JobFailed,
    JobFailedError,
    JobLost,
    JobLostError,
    RetryOnFailure,
    RunTimeoutError,
    raise_for_outcome,
)
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..support import MINIMAL_REQUESTS, FakeClock
from ._fake import BASE, FakeServer
from .conftest import MakeRunner

pytestmark = MINIMAL_REQUESTS

OOM = (
    "Evaluation produced no parsed results. Last lines of /tmp/x/eval.log:\n"
    "Traceback (most recent call last):\n"
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB\n"
    "2026-01-01 | ERROR | Error during evaluation: CUDA out of memory. Tried to allocate 2 GiB."
    " Please set `--verbosity=DEBUG` to get more information."
)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


async def submit_many(runner, count: int) -> list:  # type: ignore[no-untyped-def]
    return [
        await runner.submit("qwen2_vl", ["mme"], model_args={"n": n}, labels={"n": n})
        for n in range(count)
    ]


async def test_a_poll_costs_one_queue_read_plus_one_read_per_job_that_left_it(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    jobs = await submit_many(runner, 40)
    server.start_next()
    server.requests.clear()
    assert await runner.harvest() == []
    assert dict(server.requests) == {"GET /queue": 1}  # not 40 GET /jobs
    for _ in range(3):  # three jobs end in this interval
        server.finish(server.start_next() or server.ids("running")[0])
    server.start_next()
    server.requests.clear()
    outcomes = await runner.harvest()
    assert dict(server.requests) == {"GET /queue": 1, "GET /jobs": 3}
    assert [o.labels["n"] for o in outcomes] == [0, 1, 2]
    assert all(isinstance(o, JobCompleted) for o in outcomes)
    server.requests.clear()
    assert await runner.harvest() == []  # harvested once
    assert dict(server.requests) == {"GET /queue": 1}
    states = {job.seq: job.state for job in await runner.jobs()}
    assert [states[j.seq] for j in jobs[:5]] == ["completed"] * 3 + ["running", "queued"]


async def test_no_pending_job_means_no_request(server: FakeServer, make_runner: MakeRunner) -> None:
    runner = make_runner(BASE)
    await submit_many(runner, 2)
    server.run_all()
    assert len(await runner.harvest()) == 2
    server.requests.clear()
    assert await runner.harvest() == []
    assert server.requests == {}


async def test_every_way_a_job_ends_is_an_outcome_with_its_labels(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    done, failed, cancelled, lost = await submit_many(runner, 4)
    server.finish(done.job_id)
    server.finish(failed.job_id, "failed", OOM)
    server.finish(cancelled.job_id, "cancelled")
    del server.jobs[lost.job_id]  # evicted, or the server restarted
    outcomes = {o.labels["n"]: o for o in await runner.harvest()}
    assert isinstance(outcomes[0], JobCompleted)
    assert outcomes[0].info.result is not None and outcomes[0].job_id == done.job_id
    assert isinstance(outcomes[1], JobFailed)
    assert outcomes[1].error == OOM
    assert (
        outcomes[1].reason == "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB"
    )
    assert isinstance(outcomes[2], JobCancelled)
    assert isinstance(outcomes[3], JobLost)
    assert outcomes[3].last_state == "queued" and "restarted" in outcomes[3].why
    assert raise_for_outcome(outcomes[0]) == outcomes[0].info
    with pytest.raises(JobFailedError, match="CUDA out of memory"):
        raise_for_outcome(outcomes[1])
    with pytest.raises(JobCancelledError):
        raise_for_outcome(outcomes[2])
    with pytest.raises(JobLostError) as info:
        raise_for_outcome(outcomes[3])
    assert info.value.labels == {"n": 3} and info.value.last_state == "queued"
    # the lost job is kept, never dropped; its history says what happened
    record = (await runner.jobs())[3]
    assert record.state == "lost" and record.last_known_state == "queued"
    assert [o.event for o in await runner.history(record)] == [
        "intent",
        "answer",
        "lost",
        "harvested",
    ]


async def test_a_running_job_lost_in_a_restart_keeps_its_last_state(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    first, _second = await submit_many(runner, 2)
    server.finish(server.start_next() or "")
    server.start_next()
    assert [o.labels for o in await runner.harvest()] == [{"n": 0}]
    server.restart()
    (lost,) = await runner.harvest()
    assert isinstance(lost, JobLost) and lost.last_state == "running"
    assert (await runner.outcome(first)).kind == "completed"  # finished jobs keep their record
    again = await runner.submit("qwen2_vl", ["mme"], labels={"n": 2})
    assert again.state == "queued"  # the run goes on


async def test_ready_peeks_harvest_takes_wait_does_not_take(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    await submit_many(runner, 3)
    server.finish(server.start_next() or "")
    result = await runner.wait(return_when=FIRST_COMPLETED)
    assert [o.labels["n"] for o in result.done] == [0]
    assert [j.labels["n"] for j in result.pending] == [1, 2]
    assert len(await runner.ready()) == 1
    assert len(await runner.ready()) == 1
    assert len(await runner.harvest()) == 1
    assert await runner.ready() == []
    timed_out = await runner.wait(timeout=0.05)
    assert timed_out.done == [] and len(timed_out.pending) == 2
    server.run_all()
    everything = await runner.wait()
    assert [o.labels["n"] for o in everything.done] == [1, 2] and everything.pending == []


async def test_as_completed_yields_each_once_and_times_out(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    await submit_many(runner, 3)
    server.finish(server.start_next() or "")
    with pytest.raises(RunTimeoutError) as info:
        await runner.completed(timeout=0.05)
    assert info.value.pending == [2, 3]
    # the one message of every wait (before: "2 jobs of the run were still pending after...")
    assert str(info.value) == (
        "2 job(s) of the run did not finish within 0.05 s (pending: seq 2 queued, seq 3 "
        "queued). They go on on the server: iterate again to go on waiting."
    )
    server.run_all()
    assert [o.labels["n"] for o in await runner.completed(timeout=5)] == [1, 2]
    assert await runner.completed() == []
    assert all(job.harvested for job in await runner.jobs())


async def test_the_waits_of_a_run_sleep_by_the_one_deadline_rule(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE, poll_interval=3)
    await submit_many(runner, 7)
    clock = FakeClock()
    runner.run._clock = clock  # type: ignore[method-assign]
    runner.run._sleep = clock.asleep if runner.is_async else clock.sleep  # type: ignore[assignment]
    result = await runner.wait(timeout=10)
    assert clock.sleeps == [0.25, 0.5, 1, 2, 3, 3, 0.25]  # the pause, cut to the time left
    assert result.done == [] and len(result.pending) == 7
    clock.sleeps.clear()
    with pytest.raises(RunTimeoutError) as info:
        await runner.completed(timeout=4)
    assert clock.sleeps == [0.25, 0.5, 1, 2, 0.25]  # each wait starts with short pauses
    assert info.value.pending == [1, 2, 3, 4, 5, 6, 7]
    assert "(pending: seq 1 queued, seq 2 queued, seq 3 queued, seq 4 queued, seq 5 queued " in (
        str(info.value)
    )
    assert "and 2 more)" in str(info.value)  # the seqs are all on .pending
    clock.sleeps.clear()
    assert len((await runner.wait(timeout=0)).pending) == 7  # 0: one poll, no sleep
    assert clock.sleeps == []


async def test_failed_jobs_are_retried_by_policy_linked_to_the_first(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE, retry=RetryOnFailure("CUDA out of memory", max_attempts=3))
    oom, other = await submit_many(runner, 2)
    server.finish(oom.job_id, "failed", OOM)
    server.finish(other.job_id, "failed", "ValueError: no such task")
    outcomes = await runner.harvest()  # the OOM one was sent again: only the other is final
    assert [(o.labels["n"], o.kind) for o in outcomes] == [(1, "failed")]
    for _ in range(2):
        (retry,) = [j for j in server.ids("queued")]
        server.finish(retry, "failed", OOM)
        await runner.ready()  # a poll: sends the next attempt, takes nothing
    (final,) = await runner.completed(timeout=5)
    assert isinstance(final, JobFailed) and final.labels == {"n": 0}
    assert final.job.attempt == 3 and final.job.first_seq == oom.seq
    chain = [j for j in await runner.jobs() if j.first_seq == oom.seq]
    assert [(j.attempt, j.retry_of) for j in chain] == [(1, None), (2, oom.seq), (3, chain[1].seq)]
    assert all(j.request == oom.request for j in chain)
    assert server.requests["POST /evaluate"] == 4
    assert (await runner.outcome(oom)).job.seq == chain[2].seq


async def test_a_retry_that_completes_is_the_outcome(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE, retry=RetryOnFailure("out of memory", max_attempts=2))
    (job,) = await submit_many(runner, 1)
    server.finish(job.job_id, "failed", OOM)
    assert await runner.harvest() == []
    server.run_all()
    (outcome,) = await runner.completed()
    assert isinstance(outcome, JobCompleted) and outcome.job.attempt == 2


async def test_a_failed_queue_read_marks_nothing(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE, client_options={"max_retries": 0})
    await submit_many(runner, 2)
    server.requests.clear()
    server.queue_down = True
    assert await runner.harvest() == []
    assert server.requests["GET /queue"] == 1 and server.requests["GET /jobs"] == 0
    assert [j.state for j in await runner.jobs()] == ["queued", "queued"]


async def test_a_server_down_for_many_polls_is_said_once_and_once_when_it_answers(
    server: FakeServer, make_runner: MakeRunner, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: "reading the queue failed" at each poll (a server down for an hour: a
    # warning every poll_interval, in a training's log, a watch's, `runs watch`'s).
    runner = make_runner(BASE, client_options={"max_retries": 0})
    await submit_many(runner, 2)
    server.queue_down = True

    def said(text: str) -> int:
        return sum(text in record.getMessage() for record in caplog.records)

    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        for _ in range(4):
            assert await runner.harvest() == []
        assert (said(f"reading the queue of {BASE} failed"), said("works again")) == (1, 0)
        server.queue_down = False
        await runner.harvest()
        await runner.harvest()
        assert said(f"reading the queue of {BASE} works again") == 1
        server.queue_down = True  # a second outage is said again
        await runner.harvest()
    assert said(f"reading the queue of {BASE} failed") == 2


async def test_a_job_read_failing_for_many_polls_is_said_once_and_once_when_it_works(
    server: FakeServer, make_runner: MakeRunner, caplog: pytest.LogCaptureFixture
) -> None:
    runner = make_runner(BASE, client_options={"max_retries": 0})
    (job,) = await submit_many(runner, 1)
    server.run_all()  # it left the queue: each poll reads it
    server.jobs_down = True
    read = f"reading job {job.job_id} of {BASE}"
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        for _ in range(3):
            assert await runner.harvest() == []
        server.jobs_down = False
        assert len(await runner.harvest()) == 1
    said = [record.getMessage() for record in caplog.records]
    assert [read in text for text in said] == [True, True]
    assert f"{read} failed" in said[0] and said[1].endswith(f"{read} works again")


async def test_a_failed_poll_is_logged_naming_the_run_once(
    make_runner: MakeRunner, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: "Evaluation run run '/tmp/.../run.sqlite': reading the queue failed: ..."
    with LocalServer(LocalServerConfig(job_duration=600)) as gone_soon:
        runner = make_runner(gone_soon.url)
        await runner.submit("qwen2_vl", ["mme"], model_args={"pretrained": "a/b"})
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        assert await runner.harvest() == []
    (said,) = [r.getMessage() for r in caplog.records if "reading the queue" in r.getMessage()]
    assert said.startswith(f"Evaluation run {str(runner.run.ledger_path)!r}: reading the queue")
