"""Jobs through the facade, on both backends and with both clients (see conftest.py).

Every state and transition a job can reach on each backend: queued (with positions),
running, cancelled, failed, completed (the local server only), evicted; cancel from
each state; wait_for_job ending on each terminal state or its timeout; the queue counts
along the way.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmms_eval_client import (
    BadRequestError,
    CancelResponse,
    HealthResponse,
    JobCancelledError,
    JobFailedError,
    JobInfo,
    JobNotFoundError,
    JobStatus,
    ModelResultFiles,
    QueueStatusResponse,
    WaitTimeoutError,
)

from ..support import MINIMAL_REQUESTS
from .conftest import (
    CRASHED,
    POLL,
    REAL_SKIP_COMPLETED,
    Backend,
    Server,
    resolve,
    submit,
    submit_blocker,
    wait_until_finished,
)

pytestmark = MINIMAL_REQUESTS

StartServer = Callable[..., AbstractContextManager[Server]]


def naive(value: str | None) -> datetime:
    """A timestamp of the server: naive local ISO 8601."""
    assert value is not None
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is None
    return parsed


def progress_lines(output: str, job_id: str) -> list[str]:
    """What wait_for_job(verbose=True) printed about ``job_id``."""
    label = f"Job {job_id[:8]}..."
    lines = output.splitlines()
    assert lines, "wait_for_job(verbose=True) printed nothing"
    assert all(line.startswith(label) for line in lines), lines
    return [line[len(label) :].strip() for line in lines]


@pytest.mark.slow
async def test_two_jobs_scenario(
    held_server: Server, connect: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    client = connect(held_server.url)

    first = await submit_blocker(client, held_server)
    assert first["job_id"] == first.job_id
    assert first.status == JobStatus.QUEUED
    assert first.position_in_queue == 0
    second = await submit(client, tasks="mme")  # a single str is taken as one task
    assert second.job_id != first.job_id
    assert second.position_in_queue == 0  # the running job is not counted

    running = await resolve(client.get_job(first.job_id))
    assert isinstance(running, JobInfo)
    assert running["job_id"] == first.job_id
    assert running["status"] == "running"
    assert naive(running.created_at) <= naive(running.started_at)
    assert running.completed_at is None
    queued = await resolve(client.get_job(second.job_id))
    assert isinstance(queued, JobInfo)
    assert queued["job_id"] == second.job_id
    assert queued.status == JobStatus.QUEUED
    assert queued["position_in_queue"] == 0
    assert queued.request.tasks == ["mme"]
    assert queued.started_at is None
    assert queued.get("error") is None

    queue = await resolve(client.get_queue_status())
    assert isinstance(queue, QueueStatusResponse)
    assert queue.running_job == first.job_id
    assert queue.queued_jobs == [second.job_id]
    assert queue.queue_size == 1
    assert (queue.completed_jobs, queue.failed_jobs) == (0, 0)

    with pytest.raises(BadRequestError) as refused:
        await resolve(client.cancel_job(first.job_id))
    assert refused.value.status_code == 400
    assert refused.value.detail == "Cannot cancel a running job"

    cancelled = await resolve(client.cancel_job(second.job_id))
    assert isinstance(cancelled, CancelResponse)
    assert cancelled.message == f"Job {second.job_id} cancelled"
    assert cancelled["message"] == cancelled.message

    # A cancelled job ends the wait at once, however long the poll interval.
    started = time.monotonic()
    with pytest.raises(JobCancelledError) as was_cancelled:
        await resolve(
            client.wait_for_job(second.job_id, poll_interval=30, timeout=60, verbose=False)
        )
    assert time.monotonic() - started < 5
    assert isinstance(was_cancelled.value, RuntimeError)
    assert was_cancelled.value.job_id == second.job_id
    assert isinstance(was_cancelled.value.job, JobInfo)
    assert was_cancelled.value.job.status == JobStatus.CANCELLED
    assert was_cancelled.value.job.started_at is None
    assert was_cancelled.value.job.completed_at is not None

    held_server.release_jobs()
    capsys.readouterr()
    with pytest.raises(JobFailedError) as failed:
        await resolve(
            client.wait_for_job(first.job_id, poll_interval=POLL, timeout=60, verbose=True)
        )
    assert progress_lines(capsys.readouterr().out, first.job_id)[-1] == "failed"
    error = failed.value
    assert isinstance(error, RuntimeError)
    assert error.job_id == first.job_id
    assert isinstance(error.job, JobInfo)
    assert error.job.status == JobStatus.FAILED
    assert error.job["status"] == "failed"
    assert error.job.result is None
    assert naive(error.job.started_at) <= naive(error.job.completed_at)
    assert error.error == error.job.error
    assert error.error is not None
    assert error.error.startswith(CRASHED)
    # The message quotes the start and the end of the server's (long) error text.
    assert str(error).startswith(f"Job failed: {error.error.splitlines()[0]}")
    assert error.error.splitlines()[-1] in str(error)
    assert first.job_id in str(error)

    with pytest.raises(BadRequestError) as finished:
        await resolve(client.cancel_job(first.job_id))
    assert isinstance(finished.value, httpx.HTTPStatusError)
    assert finished.value.status_code == 400
    assert finished.value.response.status_code == 400
    assert finished.value.detail == "Job already finished or cancelled"
    assert "Job already finished or cancelled" in str(finished.value)

    # Cancelled jobs are counted nowhere in /queue; /health counts the queue's entries,
    # and the worker has now skipped the cancelled one.
    queue = await resolve(client.get_queue_status())
    assert queue.queue_size == 0
    assert queue.queued_jobs == []
    assert queue.running_job is None
    assert (queue.completed_jobs, queue.failed_jobs) == (0, 1)
    health = await resolve(client.health())
    assert health.queue_size == 0


@pytest.mark.slow
async def test_positions_with_several_queued_jobs(
    held_server: Server, connect: Callable[..., Any]
) -> None:
    client = connect(held_server.url)
    blocker = await submit_blocker(client, held_server)

    queued = [await submit(client) for _ in range(3)]
    assert [job.position_in_queue for job in queued] == [0, 1, 2]
    assert [job.message for job in queued] == [
        f"Job queued successfully. Position in queue: {n}" for n in range(3)
    ]
    for position, job in enumerate(queued):
        info = await resolve(client.get_job(job.job_id))
        assert (info.status, info.position_in_queue) == (JobStatus.QUEUED, position)
    ids = [job.job_id for job in queued]

    queue = await resolve(client.get_queue_status())
    assert queue.running_job == blocker.job_id
    assert queue.queued_jobs == ids
    assert queue.queue_size == 3
    health = await resolve(client.health())
    assert isinstance(health, HealthResponse)
    assert health.queue_size == 3

    # Cancelling the middle job moves the last one up; the cancelled one keeps its
    # last position and stays in the server's asyncio queue until the worker skips it.
    await resolve(client.cancel_job(ids[1]))
    with pytest.raises(BadRequestError) as again:
        await resolve(client.cancel_job(ids[1]))
    assert again.value.detail == "Job already finished or cancelled"
    gone = await resolve(client.get_job(ids[1]))
    assert gone.status == JobStatus.CANCELLED
    assert gone.started_at is None
    assert naive(gone.created_at) <= naive(gone.completed_at)
    assert gone.position_in_queue == 1
    last = await resolve(client.get_job(ids[2]))
    assert (last.status, last.position_in_queue) == (JobStatus.QUEUED, 1)

    queue = await resolve(client.get_queue_status())
    assert queue.queued_jobs == [ids[0], ids[2]]
    assert queue.queue_size == 2
    assert queue.running_job == blocker.job_id
    health = await resolve(client.health())
    assert health.queue_size == 3  # the cancelled job is still in the queue

    # A new job's submitted position counts the queue's entries (the cancelled one too);
    # asked again, its position counts the jobs still queued before it.
    newest = await submit(client)
    assert newest.position_in_queue == 3
    info = await resolve(client.get_job(newest.job_id))
    assert (info.status, info.position_in_queue) == (JobStatus.QUEUED, 2)

    running = await resolve(client.get_job(blocker.job_id))
    assert running.status == JobStatus.RUNNING
    held_server.release_jobs()


async def test_unknown_job(server: Server, connect: Callable[..., Any]) -> None:
    client = connect(server.url)
    job_id = str(uuid.uuid4())
    with pytest.raises(JobNotFoundError) as missing:
        await resolve(client.get_job(job_id))
    assert isinstance(missing.value, httpx.HTTPStatusError)
    assert missing.value.status_code == 404
    assert missing.value.job_id == job_id
    assert missing.value.detail == f"Job {job_id} not found"

    with pytest.raises(JobNotFoundError) as not_cancelled:
        await resolve(client.cancel_job(job_id))
    assert not_cancelled.value.detail == f"Job {job_id} not found"
    with pytest.raises(JobNotFoundError):
        await resolve(client.wait_for_job(job_id, poll_interval=POLL, timeout=5, verbose=False))


async def test_wait_for_job_to_failed(
    server: Server, connect: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    client = connect(server.url)
    job = await submit(client)
    with pytest.raises(JobFailedError) as failed:
        await resolve(client.wait_for_job(job.job_id, poll_interval=POLL, timeout=30))
    assert progress_lines(capsys.readouterr().out, job.job_id)[-1] == "failed"
    assert failed.value.job.status == JobStatus.FAILED
    assert failed.value.error is not None
    assert failed.value.error.startswith(CRASHED)
    # The error quotes the evaluation log: <output dir>/eval-<YYYYMMDD-HHMMSS>.log.
    log_path = failed.value.error[len(CRASHED) :].split(":\n", 1)[0]
    assert Path(log_path).name.startswith("eval-")
    assert log_path.endswith(".log")

    # Waiting again on a finished job ends at the first poll.
    started = time.monotonic()
    with pytest.raises(JobFailedError) as again:
        await resolve(client.wait_for_job(job.job_id, poll_interval=30, verbose=False))
    assert time.monotonic() - started < 5
    assert again.value.error == failed.value.error

    info = await resolve(client.get_job(job.job_id))
    assert info.status == JobStatus.FAILED
    assert info.result is None
    assert info.error == failed.value.error


async def test_job_whose_output_dir_cannot_be_made_fails(
    server: Server, connect: Callable[..., Any], tmp_path: Path
) -> None:
    client = connect(server.url)
    (tmp_path / "a-file").write_text("not a directory")
    output_dir = tmp_path / "a-file" / "results"
    job = await submit(client, output_dir=output_dir)
    info = await wait_until_finished(client, job.job_id)
    assert info.status == JobStatus.FAILED
    assert info.error == f"[Errno 20] Not a directory: '{output_dir}'"
    assert info.request.output_dir == str(output_dir)


async def test_wait_for_job_to_completed(
    backend: Backend,
    start_server: StartServer,
    connect: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not backend.completes_jobs:
        pytest.skip(REAL_SKIP_COMPLETED)
    output_dir = tmp_path / "results"
    with start_server() as server:
        client = connect(server.url)
        job = await submit(
            client,
            tasks=["mme", "pope"],
            model_args={"pretrained": "Qwen/Qwen2-VL-2B-Instruct"},
            output_dir=output_dir,
            limit=8,
        )
        done = await resolve(client.wait_for_job(job.job_id, poll_interval=POLL, timeout=30))
        assert progress_lines(capsys.readouterr().out, job.job_id)[-1] == "completed!"
        assert isinstance(done, JobInfo)
        assert done.status == JobStatus.COMPLETED
        assert done["status"] == "completed"
        assert done.error is None
        assert naive(done.created_at) <= naive(done.started_at) <= naive(done.completed_at)

        # The result names the model as lmms-eval does (from model_args), and points to
        # the files it wrote on the server's disk (here: this machine's).
        assert done.result is not None
        assert list(done.result) == ["Qwen__Qwen2-VL-2B-Instruct"]
        files = done.result["Qwen__Qwen2-VL-2B-Instruct"]
        assert isinstance(files, ModelResultFiles)
        assert files.results is not None
        results_path = Path(files.results)
        assert results_path.parent == output_dir / "Qwen__Qwen2-VL-2B-Instruct"
        assert results_path.name.endswith("_results.json")
        assert sorted(Path(p).name.split("_samples_")[1] for p in files.samples) == [
            "mme.jsonl",
            "pope.jsonl",
        ]
        document = json.loads(results_path.read_text(encoding="utf-8"))
        for task in ("mme", "pope"):
            metrics = document["results"][task]
            assert 0.0 <= metrics["exact_match,none"] <= 1.0
            assert "exact_match_stderr,none" in metrics
            assert document["n-samples"][task]["effective"] == 8

        # Waiting again returns at once; a finished job cannot be cancelled.
        again = await resolve(client.wait_for_job(job.job_id, poll_interval=30, verbose=False))
        assert again.result == done.result
        with pytest.raises(BadRequestError) as finished:
            await resolve(client.cancel_job(job.job_id))
        assert finished.value.detail == "Job already finished or cancelled"
        queue = await resolve(client.get_queue_status())
        assert (queue.completed_jobs, queue.failed_jobs, queue.queue_size) == (1, 0, 0)


@pytest.mark.slow
async def test_wait_for_job_times_out(held_server: Server, connect: Callable[..., Any]) -> None:
    client = connect(held_server.url)
    blocker = await submit_blocker(client, held_server)
    waiting = await submit(client)

    started = time.monotonic()
    with pytest.raises(WaitTimeoutError) as on_running:
        await resolve(
            client.wait_for_job(blocker.job_id, poll_interval=POLL, timeout=0.3, verbose=False)
        )
    assert 0.3 <= time.monotonic() - started < 1.5
    assert isinstance(on_running.value, TimeoutError)
    assert on_running.value.job_id == blocker.job_id
    assert on_running.value.job is not None
    assert on_running.value.job.status == JobStatus.RUNNING

    # timeout=0: one look, then the error.
    with pytest.raises(WaitTimeoutError) as on_queued:
        await resolve(client.wait_for_job(waiting.job_id, poll_interval=30, timeout=0))
    assert on_queued.value.job is not None
    assert on_queued.value.job.status == JobStatus.QUEUED
    assert on_queued.value.job.position_in_queue == 0

    # The jobs go on on the server.
    info = await resolve(client.get_job(blocker.job_id))
    assert info.status == JobStatus.RUNNING
    held_server.release_jobs()


@pytest.mark.slow
async def test_eviction_past_max_completed_jobs(
    start_server: StartServer, connect: Callable[..., Any]
) -> None:
    with start_server(hold_jobs=True, max_completed_jobs=2) as server:
        client = connect(server.url)
        first = await submit_blocker(client, server)
        second = await submit(client)
        await resolve(client.cancel_job(second.job_id))  # finished before the first
        server.release_jobs()
        failed = await wait_until_finished(client, first.job_id)
        assert failed.status == JobStatus.FAILED
        # Two finished jobs: both kept.
        kept = await resolve(client.get_job(second.job_id))
        assert kept.status == JobStatus.CANCELLED

        # A third finished job evicts the one that finished first (the cancelled one,
        # submitted after the first job), whatever its status.
        third = await submit(client)
        assert (await wait_until_finished(client, third.job_id)).status == JobStatus.FAILED
        with pytest.raises(JobNotFoundError) as evicted:
            await resolve(client.get_job(second.job_id))
        assert evicted.value.detail == f"Job {second.job_id} not found"
        assert evicted.value.job_id == second.job_id
        assert (await resolve(client.get_job(first.job_id))).status == JobStatus.FAILED
        queue = await resolve(client.get_queue_status())
        assert (queue.completed_jobs, queue.failed_jobs) == (0, 2)

        fourth = await submit(client)
        assert (await wait_until_finished(client, fourth.job_id)).status == JobStatus.FAILED
        with pytest.raises(JobNotFoundError):
            await resolve(client.get_job(first.job_id))
        with pytest.raises(JobNotFoundError):
            await resolve(client.cancel_job(first.job_id))
        with pytest.raises(JobNotFoundError):
            await resolve(
                client.wait_for_job(first.job_id, poll_interval=POLL, timeout=5, verbose=False)
            )
        assert (await resolve(client.get_job(third.job_id))).status == JobStatus.FAILED
        queue = await resolve(client.get_queue_status())
        assert (queue.completed_jobs, queue.failed_jobs, queue.queue_size) == (0, 2, 0)
