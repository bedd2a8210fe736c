"""The generated low-level client (lmms_eval_api) against the real lmms-eval 0.7.3 server.

For every operation, the sync functions (``sync_detailed`` and ``sync``) and the asyncio
ones (``asyncio_detailed`` and ``asyncio``) are called (each test runs once per flavor),
and the parsed pydantic type and the values that matter are asserted: what the real
server answers must parse into the documented model of ``openapi.yaml``, for success and
for the error statuses it documents.

Tests whose outcome depends on the queue get a fresh server holding its jobs
(``held_real_server``), so that the first job stays running and the next ones queued
until the test releases them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from lmms_eval_api.api.jobs import cancel_job, get_job, get_queue_status, submit_evaluation
from lmms_eval_api.api.server import health, list_models, list_tasks, merge_checkpoint
from lmms_eval_api.client import Client
from lmms_eval_api.models import (
    CancelResponse,
    ErrorDetail,
    EvaluateRequest,
    HealthResponse,
    HTTPValidationError,
    JobInfo,
    JobStatus,
    JobSubmitResponse,
    MergeRequest,
    MergeRequestCheckpointType,
    ModelListResponse,
    QueueStatusResponse,
    TaskListResponse,
    ValidationError,
)
from lmms_eval_api.types import Response

from ..servers import RealServer, poll_until

pytestmark = pytest.mark.real_server

FAILED_PREFIX = "Evaluation failed with return code"


class Api:
    """Calls the generated endpoint functions the sync or the asyncio way."""

    def __init__(self, flavor: str, base_url: str) -> None:
        self.flavor = flavor
        self.client = Client(
            base_url=base_url,
            timeout=httpx.Timeout(30.0),
            raise_on_unexpected_status=True,  # an undocumented status fails the test
        )

    async def detailed(self, op: ModuleType, *args: Any, **kwargs: Any) -> Response[Any]:
        """``sync_detailed`` or ``asyncio_detailed``."""
        if self.flavor == "sync":
            response: Response[Any] = op.sync_detailed(*args, client=self.client, **kwargs)
        else:
            response = await op.asyncio_detailed(*args, client=self.client, **kwargs)
        assert isinstance(response, Response)
        assert isinstance(response.http_response, httpx.Response)
        assert response.status_code == response.http_response.status_code
        return response

    async def parsed(self, op: ModuleType, *args: Any, **kwargs: Any) -> Any:
        """``sync`` or ``asyncio``: the parsed body only."""
        if self.flavor == "sync":
            return op.sync(*args, client=self.client, **kwargs)
        return await op.asyncio(*args, client=self.client, **kwargs)

    async def post_raw(self, path: str, body: Any) -> httpx.Response:
        """POST a body the generated functions could not send, through the same httpx client."""
        if self.flavor == "sync":
            return self.client.get_httpx_client().post(path, json=body)
        return await self.client.get_async_httpx_client().post(path, json=body)

    async def close(self) -> None:
        if self.flavor == "sync":
            self.client.get_httpx_client().close()
        else:
            await self.client.get_async_httpx_client().aclose()


@pytest.fixture(params=["sync", "asyncio"])
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[str], Api]]:
    """``connect(url)``: an Api of this test's flavor, closed at the end of the test."""
    opened: list[Api] = []

    def make(base_url: str) -> Api:
        api = Api(str(request.param), base_url)
        opened.append(api)
        return api

    yield make
    for api in opened:
        await api.close()


@pytest.fixture
def api(connect: Callable[[str], Api], real_server_url: str) -> Api:
    """An Api on the session's shared server."""
    return connect(real_server_url)


def assert_naive_iso(timestamp: str) -> None:
    """The server's timestamps: ISO 8601, local time, no timezone."""
    assert datetime.fromisoformat(timestamp).tzinfo is None, timestamp


def dummy_request(**options: Any) -> EvaluateRequest:
    """A job that the server accepts and then fails (its ML stack is missing here)."""
    return EvaluateRequest(model="dummy_model", tasks=["dummy_task"], **options)


async def submit_running_and_queued(api: Api) -> tuple[str, str]:
    """On a held server: a first job seen running, then a second one, queued behind it."""
    first = await api.parsed(submit_evaluation, body=dummy_request())
    assert isinstance(first, JobSubmitResponse)
    await poll_until(
        lambda: api.parsed(get_job, first.job_id),
        lambda job: isinstance(job, JobInfo) and job.status == JobStatus.RUNNING,
        timeout=10,
        what=f"job {first.job_id} to run",
    )
    second = await api.parsed(submit_evaluation, body=dummy_request())
    assert isinstance(second, JobSubmitResponse)
    assert second.job_id != first.job_id
    return first.job_id, second.job_id


async def wait_until_failed(api: Api, job_id: str) -> JobInfo:
    """Bounded polling of the real server until the job has failed."""
    job = await poll_until(
        lambda: api.parsed(get_job, job_id),
        lambda job: isinstance(job, JobInfo) and job.status == JobStatus.FAILED,
        timeout=20,
        what=f"job {job_id} to fail",
    )
    assert isinstance(job, JobInfo)
    return job


# -- server -------------------------------------------------------------------------------


async def test_health(api: Api) -> None:
    response = await api.detailed(health)
    assert response.status_code == HTTPStatus.OK
    assert isinstance(response.parsed, HealthResponse)
    assert response.parsed.status == "healthy"
    assert isinstance(response.parsed.queue_size, int)
    assert response.parsed.queue_size >= 0
    assert_naive_iso(response.parsed.timestamp)

    parsed = await api.parsed(health)
    assert isinstance(parsed, HealthResponse)
    assert parsed.status == "healthy"


async def test_list_tasks_reports_its_error_with_status_200(api: Api) -> None:
    # Without lmms-eval's ML stack the server cannot index its tasks: 200, [] and the reason.
    response = await api.detailed(list_tasks)
    assert response.status_code == HTTPStatus.OK
    assert isinstance(response.parsed, TaskListResponse)
    assert response.parsed.tasks == []
    assert isinstance(response.parsed.error, str)
    assert "No module named" in response.parsed.error

    parsed = await api.parsed(list_tasks)
    assert isinstance(parsed, TaskListResponse)
    assert parsed.tasks == []
    assert parsed.error == response.parsed.error


async def test_list_models(api: Api) -> None:
    response = await api.detailed(list_models)
    assert response.status_code == HTTPStatus.OK
    assert isinstance(response.parsed, ModelListResponse)
    models = response.parsed.models
    assert response.parsed.error is None
    assert len(models) > 50  # about 120 model types in 0.7.3
    assert all(isinstance(name, str) and name for name in models)
    assert "qwen2_vl" in models

    parsed = await api.parsed(list_models)
    assert isinstance(parsed, ModelListResponse)
    assert parsed.models == models


async def test_merge_checkpoint_without_lmms_engine_is_a_500(api: Api, tmp_path: Path) -> None:
    # lmms_engine is imported before the path is looked at: even a missing path is a 500.
    for path in (str(tmp_path), str(tmp_path / "missing")):
        response = await api.detailed(merge_checkpoint, body=MergeRequest(checkpoint_path=path))
        assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
        assert isinstance(response.parsed, ErrorDetail)
        assert response.parsed.detail.startswith("lmms_engine not available: ")

    parsed = await api.parsed(
        merge_checkpoint,
        body=MergeRequest(
            checkpoint_path=str(tmp_path),
            output_path=str(tmp_path / "merged"),
            checkpoint_type=MergeRequestCheckpointType.EMA,
        ),
    )
    assert isinstance(parsed, ErrorDetail)
    assert parsed.detail.startswith("lmms_engine not available: ")


async def test_merge_checkpoint_validation_errors_are_422(api: Api) -> None:
    # The open enum lets an unknown checkpoint_type through the client: the server refuses it.
    body = MergeRequest(checkpoint_path="/ckpt", checkpoint_type=MergeRequestCheckpointType("x"))
    response = await api.detailed(merge_checkpoint, body=body)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert isinstance(response.parsed, HTTPValidationError)
    assert response.parsed.detail is not None
    [error] = response.parsed.detail
    assert isinstance(error, ValidationError)
    assert error.loc == ["body", "checkpoint_type"]
    assert error.type_ == "literal_error"
    assert error.msg == "Input should be 'regular' or 'ema'"
    assert error.input_ == "x"

    parsed = await api.parsed(merge_checkpoint, body=body)
    assert isinstance(parsed, HTTPValidationError)

    raw = await api.post_raw("/merge", {})
    assert raw.status_code == 422
    missing = HTTPValidationError.from_dict(raw.json())
    assert missing.detail is not None
    [error] = missing.detail
    assert isinstance(error, ValidationError)
    assert (error.loc, error.msg, error.type_) == (
        ["body", "checkpoint_path"],
        "Field required",
        "missing",
    )


# -- jobs ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_submit_evaluation(
    held_real_server: RealServer, connect: Callable[[str], Api]
) -> None:
    api = connect(held_real_server.url)
    response = await api.detailed(submit_evaluation, body=dummy_request())
    assert response.status_code == HTTPStatus.OK
    first = response.parsed
    assert isinstance(first, JobSubmitResponse)
    assert isinstance(first.job_id, str)
    assert first.job_id
    assert str(uuid.UUID(first.job_id)) == first.job_id
    assert first.status == JobStatus.QUEUED
    assert first.position_in_queue == 0
    assert first.message == "Job queued successfully. Position in queue: 0"

    await poll_until(
        lambda: api.parsed(get_job, first.job_id),
        lambda job: isinstance(job, JobInfo) and job.status == JobStatus.RUNNING,
        timeout=10,
        what="the first job to run",
    )
    # The running job is not counted in the positions of the jobs behind it.
    for expected in (0, 1):
        queued = await api.parsed(submit_evaluation, body=dummy_request())
        assert isinstance(queued, JobSubmitResponse)
        assert queued.status == JobStatus.QUEUED
        assert queued.position_in_queue == expected
        assert queued.message == f"Job queued successfully. Position in queue: {expected}"


async def test_submit_evaluation_malformed_bodies_are_422(api: Api) -> None:
    # A missing model, sent through the generated function (a constructed, unvalidated body).
    body = EvaluateRequest.model_construct(tasks=["dummy_task"])
    response = await api.detailed(submit_evaluation, body=body)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert isinstance(response.parsed, HTTPValidationError)
    assert response.parsed.detail is not None
    [error] = response.parsed.detail
    assert isinstance(error, ValidationError)
    assert (error.loc, error.msg, error.type_) == (["body", "model"], "Field required", "missing")
    parsed = await api.parsed(submit_evaluation, body=body)
    assert isinstance(parsed, HTTPValidationError)

    # tasks as a bare string: the generated model would refuse it, so send it raw.
    raw = await api.post_raw("/evaluate", {"model": "dummy_model", "tasks": "dummy_task"})
    assert raw.status_code == 422
    invalid = HTTPValidationError.from_dict(raw.json())
    assert invalid.detail is not None
    [error] = invalid.detail
    assert isinstance(error, ValidationError)
    assert error.loc == ["body", "tasks"]
    assert error.msg == "Input should be a valid list"
    assert error.type_ == "list_type"
    assert error.input_ == "dummy_task"

    raw = await api.post_raw("/evaluate", {"tasks": ["dummy_task"]})
    assert raw.status_code == 422
    invalid = HTTPValidationError.from_dict(raw.json())
    assert invalid.detail is not None
    assert [(e.loc, e.msg) for e in invalid.detail] == [(["body", "model"], "Field required")]


@pytest.mark.slow
async def test_get_job(held_real_server: RealServer, connect: Callable[[str], Api]) -> None:
    api = connect(held_real_server.url)
    sent = dummy_request(model_args={"pretrained": "org/dummy"}, limit=2, num_fewshot=0)
    submitted = await api.parsed(submit_evaluation, body=sent)
    assert isinstance(submitted, JobSubmitResponse)
    first = submitted.job_id
    await poll_until(
        lambda: api.parsed(get_job, first),
        lambda job: isinstance(job, JobInfo) and job.status == JobStatus.RUNNING,
        timeout=10,
        what="the first job to run",
    )
    queued = await api.parsed(submit_evaluation, body=dummy_request())
    assert isinstance(queued, JobSubmitResponse)
    second = queued.job_id

    response = await api.detailed(get_job, first)
    assert response.status_code == HTTPStatus.OK
    job = response.parsed
    assert isinstance(job, JobInfo)
    assert job.job_id == first
    assert job.status == JobStatus.RUNNING
    assert_naive_iso(job.created_at)
    assert job.started_at is not None
    assert_naive_iso(job.started_at)
    assert (job.completed_at, job.result, job.error) == (None, None, None)
    # The request is echoed, with the server's defaults filled in.
    assert isinstance(job.request, EvaluateRequest)
    assert job.request.model == "dummy_model"
    assert job.request.tasks == ["dummy_task"]
    assert job.request.model_args == {"pretrained": "org/dummy"}
    assert (job.request.limit, job.request.num_fewshot) == (2, 0)
    assert (job.request.log_samples, job.request.predict_only, job.request.num_gpus) == (
        True,
        False,
        1,
    )
    assert {"batch_size", "device", "gen_kwargs", "output_dir"} <= job.request.model_fields_set
    assert job.request.output_dir is None

    waiting = await api.parsed(get_job, second)
    assert isinstance(waiting, JobInfo)
    assert waiting.job_id == second
    assert waiting.status == JobStatus.QUEUED
    assert waiting.position_in_queue == 0
    assert waiting.started_at is None
    assert waiting.request.model_args is None

    held_real_server.release_jobs()
    failed = await wait_until_failed(api, first)
    assert failed.error is not None
    assert failed.error.startswith(FAILED_PREFIX)
    assert failed.completed_at is not None
    assert_naive_iso(failed.completed_at)
    assert failed.result is None


async def test_get_job_unknown_is_a_404(api: Api) -> None:
    job_id = str(uuid.uuid4())
    response = await api.detailed(get_job, job_id)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert isinstance(response.parsed, ErrorDetail)
    assert response.parsed.detail == f"Job {job_id} not found"

    parsed = await api.parsed(get_job, job_id)
    assert isinstance(parsed, ErrorDetail)
    assert parsed.detail == f"Job {job_id} not found"


async def test_get_job_percent_encodes_the_id(api: Api) -> None:
    # "../health" stays one path segment: the server matches no route (it never serves
    # /health for it) and answers FastAPI's own 404.
    response = await api.detailed(get_job, "../health")
    assert response.http_response.request.url.raw_path == b"/jobs/..%2Fhealth"
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert isinstance(response.parsed, ErrorDetail)
    assert response.parsed.detail == "Not Found"


async def test_cancel_job(held_real_server: RealServer, connect: Callable[[str], Api]) -> None:
    api = connect(held_real_server.url)
    first, second = await submit_running_and_queued(api)

    running = await api.detailed(cancel_job, first)
    assert running.status_code == HTTPStatus.BAD_REQUEST
    assert isinstance(running.parsed, ErrorDetail)
    assert running.parsed.detail == "Cannot cancel a running job"

    response = await api.detailed(cancel_job, second)
    assert response.status_code == HTTPStatus.OK
    assert isinstance(response.parsed, CancelResponse)
    assert response.parsed.message == f"Job {second} cancelled"
    cancelled = await api.parsed(get_job, second)
    assert isinstance(cancelled, JobInfo)
    assert cancelled.status == JobStatus.CANCELLED

    again = await api.parsed(cancel_job, second)
    assert isinstance(again, ErrorDetail)
    assert again.detail == "Job already finished or cancelled"

    held_real_server.release_jobs()
    await wait_until_failed(api, first)
    finished = await api.detailed(cancel_job, first)
    assert finished.status_code == HTTPStatus.BAD_REQUEST
    assert isinstance(finished.parsed, ErrorDetail)
    assert finished.parsed.detail == "Job already finished or cancelled"

    unknown = str(uuid.uuid4())
    missing = await api.detailed(cancel_job, unknown)
    assert missing.status_code == HTTPStatus.NOT_FOUND
    assert isinstance(missing.parsed, ErrorDetail)
    assert missing.parsed.detail == f"Job {unknown} not found"
    parsed = await api.parsed(cancel_job, unknown)
    assert isinstance(parsed, ErrorDetail)
    assert parsed.detail == f"Job {unknown} not found"


@pytest.mark.slow
async def test_get_queue_status(
    held_real_server: RealServer, connect: Callable[[str], Api]
) -> None:
    api = connect(held_real_server.url)
    empty = await api.detailed(get_queue_status)
    assert empty.status_code == HTTPStatus.OK
    assert isinstance(empty.parsed, QueueStatusResponse)
    assert empty.parsed.queue_size == 0
    assert empty.parsed.running_job is None
    assert empty.parsed.queued_jobs == []
    assert (empty.parsed.completed_jobs, empty.parsed.failed_jobs) == (0, 0)

    first, second = await submit_running_and_queued(api)
    third_submitted = await api.parsed(submit_evaluation, body=dummy_request())
    assert isinstance(third_submitted, JobSubmitResponse)
    third = third_submitted.job_id

    busy = await api.parsed(get_queue_status)
    assert isinstance(busy, QueueStatusResponse)
    assert busy.running_job == first
    assert busy.queued_jobs == [second, third]
    assert busy.queue_size == 2
    assert (busy.completed_jobs, busy.failed_jobs) == (0, 0)

    cancelled = await api.parsed(cancel_job, second)
    assert isinstance(cancelled, CancelResponse)
    after_cancel = await api.parsed(get_queue_status)
    assert isinstance(after_cancel, QueueStatusResponse)
    assert after_cancel.queued_jobs == [third]
    assert after_cancel.queue_size == 1
    # /health counts the cancelled job still sitting in the server's asyncio queue.
    status = await api.parsed(health)
    assert isinstance(status, HealthResponse)
    assert status.queue_size == 2

    held_real_server.release_jobs()
    await wait_until_failed(api, first)
    await wait_until_failed(api, third)
    done = await api.detailed(get_queue_status)
    assert isinstance(done.parsed, QueueStatusResponse)
    assert done.parsed.running_job is None
    assert done.parsed.queued_jobs == []
    assert done.parsed.queue_size == 0
    # Cancelled jobs are counted nowhere.
    assert (done.parsed.completed_jobs, done.parsed.failed_jobs) == (0, 2)
