"""The facade (EvalClient and AsyncEvalClient) against the real lmms-eval 0.7.3 server.

Every test runs once with each client: the scenario is written once and ``resolve()``
awaits what the async client returns. Without lmms-eval's ML stack every job fails on
the server, a path the clients must report well. The two-job scenario gets a fresh server
holding its jobs (``held_real_server``), so the first job stays running, and the second
queued, until the test releases them.
"""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import httpx
import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    BadRequestError,
    CancelResponse,
    DiscoveryError,
    EvalClient,
    HealthResponse,
    InternalServerError,
    JobCancelledError,
    JobFailedError,
    JobInfo,
    JobNotFoundError,
    JobStatus,
    JobSubmitResponse,
    QueueStatusResponse,
)

from ..servers import RealServer, poll_until

pytestmark = pytest.mark.real_server

T = TypeVar("T")
AnyClient = EvalClient | AsyncEvalClient


async def resolve(value: T | Awaitable[T]) -> T:
    """The value a sync client returned, or what an async client's coroutine gives."""
    if inspect.isawaitable(value):
        return await value
    return value


@pytest.fixture(params=[EvalClient, AsyncEvalClient], ids=["EvalClient", "AsyncEvalClient"])
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[str], Any]]:
    """``connect(url)``: a client of this test's class, closed at the end of the test."""
    opened: list[AnyClient] = []

    def make(base_url: str) -> Any:
        client = request.param(base_url, 30.0)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await resolve(client.close())


async def test_two_jobs_scenario(
    held_real_server: RealServer, connect: Callable[[str], Any]
) -> None:
    client = connect(held_real_server.url)

    first = await resolve(client.evaluate(model="dummy_model", tasks=["dummy_task"]))
    assert isinstance(first, JobSubmitResponse)
    assert first["job_id"] == first.job_id
    assert first.status == JobStatus.QUEUED
    await poll_until(
        lambda: client.get_job(first.job_id),
        lambda job: job.status == JobStatus.RUNNING,
        timeout=10,
        what="the first job to run",
    )
    second = await resolve(client.evaluate(model="dummy_model", tasks="dummy_task"))
    assert isinstance(second, JobSubmitResponse)
    assert second.job_id != first.job_id
    assert second.position_in_queue == 0

    running = await resolve(client.get_job(first.job_id))
    assert isinstance(running, JobInfo)
    assert running["job_id"] == first.job_id
    assert running["status"] == "running"
    queued = await resolve(client.get_job(second.job_id))
    assert isinstance(queued, JobInfo)
    assert queued["job_id"] == second.job_id
    assert queued.status == JobStatus.QUEUED
    assert queued["position_in_queue"] == 0
    assert queued.request.tasks == ["dummy_task"]  # a single str is taken as one task
    assert queued.get("error") is None

    queue = await resolve(client.get_queue_status())
    assert isinstance(queue, QueueStatusResponse)
    assert queue.running_job == first.job_id
    assert queue.queued_jobs == [second.job_id]
    assert queue.queue_size == 1

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

    held_real_server.release_jobs()
    with pytest.raises(JobFailedError) as failed:
        await resolve(
            client.wait_for_job(first.job_id, poll_interval=0.2, timeout=60, verbose=False)
        )
    error = failed.value
    assert isinstance(error, RuntimeError)
    assert error.job_id == first.job_id
    assert isinstance(error.job, JobInfo)
    assert error.job.status == JobStatus.FAILED
    assert error.job["status"] == "failed"
    assert error.job.completed_at is not None
    assert error.error == error.job.error
    assert error.error is not None
    assert error.error.startswith("Evaluation failed with return code")
    assert error.error in str(error)
    assert first.job_id in str(error)

    with pytest.raises(BadRequestError) as finished:
        await resolve(client.cancel_job(first.job_id))
    assert isinstance(finished.value, httpx.HTTPStatusError)
    assert finished.value.status_code == 400
    assert finished.value.response.status_code == 400
    assert finished.value.detail == "Job already finished or cancelled"
    assert "Job already finished or cancelled" in str(finished.value)


async def test_unknown_job(real_server_url: str, connect: Callable[[str], Any]) -> None:
    client = connect(real_server_url)
    job_id = str(uuid.uuid4())
    with pytest.raises(JobNotFoundError) as missing:
        await resolve(client.get_job(job_id))
    assert isinstance(missing.value, httpx.HTTPStatusError)
    assert missing.value.status_code == 404
    assert missing.value.job_id == job_id
    assert missing.value.detail == f"Job {job_id} not found"

    with pytest.raises(JobNotFoundError):
        await resolve(client.cancel_job(job_id))
    with pytest.raises(JobNotFoundError):
        await resolve(client.wait_for_job(job_id, poll_interval=0.2, timeout=5, verbose=False))


async def test_health_and_discovery(real_server_url: str, connect: Callable[[str], Any]) -> None:
    client = connect(real_server_url)
    status = await resolve(client.health())
    assert isinstance(status, HealthResponse)
    assert status.status == "healthy"
    assert status["status"] == "healthy"
    assert await resolve(client.is_healthy()) is True

    models = await resolve(client.list_models())
    assert isinstance(models, list)
    assert models
    assert all(isinstance(name, str) and name for name in models)
    assert "qwen2_vl" in models

    # The server answers {"tasks": [], "error": ...} here: an error, not an empty list.
    with pytest.raises(DiscoveryError) as no_tasks:
        await resolve(client.list_tasks())
    assert "No module named" in no_tasks.value.server_message
    assert no_tasks.value.server_message in str(no_tasks.value)


async def test_merge_checkpoint_without_lmms_engine(
    real_server_url: str, connect: Callable[[str], Any]
) -> None:
    client = connect(real_server_url)
    with pytest.raises(InternalServerError) as failed:
        await resolve(client.merge_checkpoint("/nonexistent/checkpoint"))
    assert failed.value.status_code == 500
    assert failed.value.detail.startswith("lmms_engine not available: ")


async def test_is_healthy_is_false_once_the_server_is_gone(
    start_real_server: Callable[..., AbstractContextManager[RealServer]],
    connect: Callable[[str], Any],
) -> None:
    with start_real_server() as server:
        client = connect(server.url)
        assert await resolve(client.is_healthy()) is True
    assert server.process.returncode is not None
    assert await resolve(client.is_healthy()) is False
