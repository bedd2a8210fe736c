"""Every public method of both clients against a mocked server: what is sent, what comes back."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from lmms_eval_client import (
    AsyncEvalClient,
    CancelResponse,
    DiscoveryError,
    EvalClient,
    HealthResponse,
    InternalServerError,
    InvalidArgumentError,
    JobInfo,
    JobStatus,
    JobSubmitResponse,
    MergeResponse,
    ModelResultFiles,
    QueueStatusResponse,
)

from ..support import (
    BASE,
    HEALTH_JSON,
    JOB_ID,
    MINIMAL_REQUESTS,
    QUEUE_JSON,
    SUBMIT_JSON,
    Caller,
    job_json,
)

pytestmark = MINIMAL_REQUESTS

LISTINGS = [("list_tasks", "/tasks", "tasks"), ("list_models", "/models", "models")]


async def test_health(caller: Caller, mock: respx.MockRouter) -> None:
    route = mock.get("/health").respond(200, json=HEALTH_JSON)
    health = await caller.health()
    assert isinstance(health, HealthResponse)
    assert (health.status, health.queue_size) == ("healthy", 0)
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, json=HEALTH_JSON), True),
        (httpx.Response(200, json={**HEALTH_JSON, "status": "degraded"}), False),
        (httpx.Response(500, json={"detail": "boom"}), False),
        (httpx.Response(503, text="<html>down</html>"), False),
        (httpx.Response(200, text="<html>captive portal</html>"), False),
        (httpx.ConnectError("refused"), False),
        (httpx.ReadTimeout("slow"), False),
    ],
    ids=["healthy", "degraded", "500", "503-html", "200-html", "connect-error", "read-timeout"],
)
async def test_is_healthy(
    caller: Caller, mock: respx.MockRouter, response: object, expected: bool
) -> None:
    if isinstance(response, httpx.Response):
        mock.get("/health").mock(return_value=response)
    else:
        mock.get("/health").mock(side_effect=response)
    assert await caller.is_healthy() is expected


@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
@pytest.mark.parametrize("url", ["not a url", "ftp://lmms.test", "http://", "localhost:8000", ""])
def test_invalid_base_url_raises_at_construction(cls: type, url: str) -> None:
    # is_healthy() would otherwise hide a typo as "server down"
    with pytest.raises(InvalidArgumentError, match="base_url"):
        cls(url)


@pytest.mark.parametrize(("method", "path", "key"), LISTINGS)
async def test_listing(
    caller: Caller, mock: respx.MockRouter, method: str, path: str, key: str
) -> None:
    mock.get(path).respond(200, json={key: ["a", "b"]})
    assert await getattr(caller, method)() == ["a", "b"]


@pytest.mark.parametrize(("method", "path", "key"), LISTINGS)
async def test_listing_empty_is_fine(
    caller: Caller, mock: respx.MockRouter, method: str, path: str, key: str
) -> None:
    mock.get(path).respond(200, json={key: [], "error": None})
    assert await getattr(caller, method)() == []


@pytest.mark.parametrize(("method", "path", "key"), LISTINGS)
async def test_listing_error_raises_discovery_error(
    caller: Caller, mock: respx.MockRouter, method: str, path: str, key: str
) -> None:
    # lmms-eval answers 200 with an empty list and the reason, which the old client hid
    reason = "No module named 'lmms_eval.tasks.mmmu'"
    mock.get(path).respond(200, json={key: [], "error": reason})
    with pytest.raises(DiscoveryError) as info:
        await getattr(caller, method)()
    assert info.value.server_message == reason
    assert reason in str(info.value)


@pytest.mark.parametrize(("method", "path", "key"), LISTINGS)
async def test_listing_error_with_empty_message_raises(
    caller: Caller, mock: respx.MockRouter, method: str, path: str, key: str
) -> None:
    mock.get(path).respond(200, json={key: [], "error": ""})
    with pytest.raises(DiscoveryError):
        await getattr(caller, method)()


@pytest.mark.parametrize(
    ("args", "kwargs", "sent"),
    [
        (("/ck",), {}, {"checkpoint_path": "/ck", "checkpoint_type": "regular"}),
        (
            ("/ck", "/out", "ema"),
            {},
            {"checkpoint_path": "/ck", "output_path": "/out", "checkpoint_type": "ema"},
        ),
        (
            ("/ck",),
            {"checkpoint_type": "ema"},
            {"checkpoint_path": "/ck", "checkpoint_type": "ema"},
        ),
    ],
)
async def test_merge_checkpoint(
    caller: Caller, mock: respx.MockRouter, args: tuple, kwargs: dict, sent: dict
) -> None:
    route = mock.post("/merge").respond(
        200, json={"success": True, "message": "merged", "merged_path": "/out"}
    )
    result = await caller.merge_checkpoint(*args, **kwargs)
    assert isinstance(result, MergeResponse)
    assert (result.success, result.merged_path) == (True, "/out")
    assert json.loads(route.calls.last.request.content) == sent


async def test_merge_checkpoint_500(caller: Caller, mock: respx.MockRouter) -> None:
    detail = "lmms_engine is not installed on the server"
    mock.post("/merge").respond(500, json={"detail": detail})
    with pytest.raises(InternalServerError) as info:
        await caller.merge_checkpoint("/ck")
    assert info.value.status_code == 500
    assert info.value.detail == detail
    assert detail in str(info.value)


@pytest.mark.parametrize("checkpoint_type", ["fp16", "", None, "EMA"])
async def test_merge_checkpoint_bad_type(
    caller: Caller, mock: respx.MockRouter, checkpoint_type: object
) -> None:
    with pytest.raises(InvalidArgumentError, match="checkpoint_type"):
        await caller.merge_checkpoint("/ck", checkpoint_type=checkpoint_type)
    assert mock.calls.call_count == 0


async def test_evaluate(caller: Caller, mock: respx.MockRouter) -> None:
    route = mock.post("/evaluate").respond(200, json={**SUBMIT_JSON, "position_in_queue": 3})
    job = await caller.evaluate("qwen2_vl", ["mmmu_val"])
    assert isinstance(job, JobSubmitResponse)
    assert (job.job_id, job.status, job.position_in_queue) == (JOB_ID, JobStatus.QUEUED, 3)
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("lmms-eval-client/")


async def test_get_job(caller: Caller, mock: respx.MockRouter) -> None:
    result = {"Qwen__Qwen2-VL": {"results": "/r/x_results.json", "samples": ["/r/s.jsonl"]}}
    body = job_json("completed", result=result, started_at="s", completed_at="c")
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=body)
    job = await caller.get_job(JOB_ID)
    assert isinstance(job, JobInfo)
    assert job.status == JobStatus.COMPLETED
    assert job.request.tasks == ["mmmu_val"]
    assert job.result is not None
    files = job.result["Qwen__Qwen2-VL"]
    assert isinstance(files, ModelResultFiles)
    assert files.samples == ["/r/s.jsonl"]


async def test_get_job_keeps_fields_a_newer_server_adds(
    caller: Caller, mock: respx.MockRouter
) -> None:
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("running", progress=0.5))
    job = await caller.get_job(JOB_ID)
    assert job["progress"] == 0.5


async def test_cancel_job(caller: Caller, mock: respx.MockRouter) -> None:
    route = mock.delete(f"/jobs/{JOB_ID}").respond(200, json={"message": f"Job {JOB_ID} cancelled"})
    result = await caller.cancel_job(JOB_ID)
    assert isinstance(result, CancelResponse)
    assert result.message == f"Job {JOB_ID} cancelled"
    assert route.call_count == 1


async def test_get_queue_status(caller: Caller, mock: respx.MockRouter) -> None:
    mock.get("/queue").respond(200, json=QUEUE_JSON)
    queue = await caller.get_queue_status()
    assert isinstance(queue, QueueStatusResponse)
    assert (queue.queue_size, queue.running_job, queue.queued_jobs) == (1, "a", ["b"])
    assert (queue.completed_jobs, queue.failed_jobs) == (2, 1)


async def test_wait_for_job_returns_job_info(caller: Caller, mock: respx.MockRouter) -> None:
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("completed"))
    job = await caller.wait_for_job(JOB_ID, verbose=False)
    assert isinstance(job, JobInfo)
    assert job.status == "completed"


# -- lifecycle ------------------------------------------------------------------------------


def test_sync_context_manager_closes(mock: respx.MockRouter) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    with EvalClient(BASE) as client:
        assert isinstance(client, EvalClient)
        assert client.health().status == "healthy"
        http = client._http
        assert not http.is_closed
    assert http.is_closed


async def test_async_context_manager_closes(mock: respx.MockRouter) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    async with AsyncEvalClient(BASE) as client:
        assert isinstance(client, AsyncEvalClient)
        assert (await client.health()).status == "healthy"
        http = client._http
        assert not http.is_closed
    assert http.is_closed


async def test_close_is_idempotent(caller: Caller) -> None:
    await caller.close()
    await caller.close()
    assert caller.client._http.is_closed


def test_sync_context_manager_closes_on_error(mock: respx.MockRouter) -> None:
    with pytest.raises(KeyError), EvalClient(BASE) as client:
        http = client._http
        raise KeyError("x")
    assert http.is_closed


async def test_async_context_manager_closes_on_error(mock: respx.MockRouter) -> None:
    with pytest.raises(KeyError):
        async with AsyncEvalClient(BASE) as client:
            http = client._http
            raise KeyError("x")
    assert http.is_closed


@pytest.mark.parametrize(
    ("given", "expected"),
    [("http://lmms.test:8000/", "http://lmms.test:8000"), ("https://h.test", "https://h.test")],
)
async def test_base_url_property(make_caller, given: str, expected: str) -> None:
    caller = make_caller(given)
    assert caller.client.base_url == expected
