"""Health, discovery, merge, request errors and a vanished server, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import httpx
import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    DiscoveryError,
    HealthResponse,
    InternalServerError,
    UnprocessableEntityError,
)
from lmms_eval_client.testing._config import DEFAULT_TASKS

from ..support import MINIMAL_REQUESTS
from .conftest import (
    MODEL,
    REAL_SKIP_TASKS,
    TASKS,
    Backend,
    Server,
    resolve,
)

pytestmark = MINIMAL_REQUESTS

StartServer = Callable[..., AbstractContextManager[Server]]

LMMS_ENGINE_MISSING = (
    "lmms_engine not available: lmms_engine package not found. "
    "Please install lmms-engine to use checkpoint merging."
)


def lmms_eval_model_names() -> set[str]:
    """The model names lmms-eval 0.7.3 itself lists (what the real GET /models serves)."""
    from lmms_eval.models import list_available_models  # type: ignore[import-untyped]

    return set(list_available_models())


async def test_health_and_models(server: Server, connect: Callable[..., Any]) -> None:
    client = connect(server.url)
    health = await resolve(client.health())
    assert isinstance(health, HealthResponse)
    assert health.status == "healthy"
    assert health["status"] == "healthy"
    assert datetime.fromisoformat(health.timestamp).tzinfo is None
    assert health.queue_size >= 0
    assert await resolve(client.is_healthy()) is True

    models = await resolve(client.list_models())
    assert isinstance(models, list)
    assert models
    assert all(isinstance(name, str) and name for name in models)
    assert MODEL in models
    # Every name either server offers is a model type lmms-eval 0.7.3 has.
    assert set(models) <= lmms_eval_model_names()


async def test_list_tasks(backend: Backend, server: Server, connect: Callable[..., Any]) -> None:
    if not backend.lists_tasks:
        pytest.skip(REAL_SKIP_TASKS)
    client = connect(server.url)
    tasks = await resolve(client.list_tasks())
    assert tasks == list(DEFAULT_TASKS)
    assert set(TASKS) <= set(tasks)


@pytest.mark.slow
async def test_list_tasks_reports_the_server_error(
    start_server: StartServer, connect: Callable[..., Any]
) -> None:
    # {"tasks": [], "error": ...} with status 200: an error, not an empty list.
    with start_server(tasks_unavailable=True) as server:
        client = connect(server.url)
        with pytest.raises(DiscoveryError) as no_tasks:
            await resolve(client.list_tasks())
    # lmms-eval's ML stack is missing here: the module named depends on what is installed.
    assert no_tasks.value.server_message.startswith("No module named '")
    assert no_tasks.value.server_message in str(no_tasks.value)


async def test_merge_checkpoint_without_lmms_engine(
    server: Server, connect: Callable[..., Any]
) -> None:
    client = connect(server.url)
    with pytest.raises(InternalServerError) as failed:
        await resolve(client.merge_checkpoint("/nonexistent/checkpoint"))
    assert failed.value.status_code == 500
    assert failed.value.detail == LMMS_ENGINE_MISSING
    with pytest.raises(InternalServerError) as failed_ema:
        await resolve(
            client.merge_checkpoint("/nonexistent/checkpoint", "/tmp/merged", checkpoint_type="ema")
        )
    assert failed_ema.value.detail == LMMS_ENGINE_MISSING


async def test_unprocessable_request_is_422_with_the_field_errors(
    server: Server, connect: Callable[..., Any]
) -> None:
    # The clients check every argument the server would reject, so a 422 comes from
    # something between them and the server: here an httpx client whose hook (a proxy
    # would do the same) relabels the JSON body as text, which the server cannot parse.
    def relabel(request: httpx.Request) -> None:
        request.headers["Content-Type"] = "text/plain"

    async def relabel_async(request: httpx.Request) -> None:
        relabel(request)

    probe = connect(server.url)
    hook = relabel_async if isinstance(probe, AsyncEvalClient) else relabel
    client = connect(server.url, event_hooks={"request": [hook]})

    with pytest.raises(UnprocessableEntityError) as rejected:
        await resolve(client.evaluate(model=MODEL, tasks=TASKS))
    error = rejected.value
    assert isinstance(error, httpx.HTTPStatusError)
    assert error.status_code == 422
    assert len(error.errors) == 1
    field = error.errors[0]
    assert field["type"] == "model_attributes_type"
    assert field["loc"] == ["body"]
    assert field["msg"] == "Input should be a valid dictionary or object to extract fields from"
    assert field["msg"] in str(error)

    with pytest.raises(UnprocessableEntityError) as merge_rejected:
        await resolve(client.merge_checkpoint("/nonexistent/checkpoint"))
    assert [e["type"] for e in merge_rejected.value.errors] == ["model_attributes_type"]

    # Nothing was queued.
    queue = await resolve(probe.get_queue_status())
    assert queue.queue_size == 0


async def test_is_healthy_is_false_once_the_server_is_gone(
    start_server: StartServer, connect: Callable[..., Any]
) -> None:
    with start_server() as server:
        client = connect(server.url)
        assert await resolve(client.is_healthy()) is True
    assert await resolve(client.is_healthy()) is False
