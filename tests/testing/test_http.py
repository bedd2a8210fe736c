"""The local server's HTTP surface besides jobs: shapes, discovery, merge, 422s."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    DiscoveryError,
    InternalServerError,
)
from lmms_eval_client.testing import LocalServerConfig, asgi_client

MERGE_500 = (
    "lmms_engine not available: lmms_engine package not found. "
    "Please install lmms-engine to use checkpoint merging."
)


async def test_health_shape(http: httpx.AsyncClient, client: AsyncEvalClient) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "timestamp", "queue_size"}
    assert body["status"] == "healthy"
    assert body["queue_size"] == 0
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is None  # naive local time
    assert await client.is_healthy()


async def test_queue_shape(http: httpx.AsyncClient) -> None:
    response = await http.get("/queue")
    assert response.status_code == 200
    assert response.json() == {
        "queue_size": 0,
        "running_job": None,
        "queued_jobs": [],
        "completed_jobs": 0,
        "failed_jobs": 0,
    }


async def test_tasks_and_models(http: httpx.AsyncClient, client: AsyncEvalClient) -> None:
    tasks = (await http.get("/tasks")).json()
    assert set(tasks) == {"tasks"}  # no "error" key when there is none
    assert "mmmu_val" in tasks["tasks"]
    models = (await http.get("/models")).json()
    assert set(models) == {"models"}
    assert "qwen2_vl" in models["models"]
    assert await client.list_tasks() == tasks["tasks"]
    assert await client.list_models() == models["models"]


async def test_configured_discovery_and_its_errors(tmp_path: Path) -> None:
    config = LocalServerConfig(
        tasks=["t1", "t2"],
        models=["m"],
        tasks_error="No module named 'yaml'",
        temp_dir_root=tmp_path,
    )
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        response = await http.get("/tasks")
        assert response.status_code == 200  # as the real server: 200 with the reason
        assert response.json() == {"tasks": [], "error": "No module named 'yaml'"}
        with pytest.raises(DiscoveryError):
            await client.list_tasks()
        assert await client.list_models() == ["m"]


async def test_merge_answers_as_the_real_server_without_lmms_engine(
    http: httpx.AsyncClient, client: AsyncEvalClient
) -> None:
    response = await http.post("/merge", json={"checkpoint_path": "/does/not/exist"})
    assert response.status_code == 500
    assert response.json() == {"detail": MERGE_500}
    with pytest.raises(InternalServerError) as caught:
        await client.merge_checkpoint("/ckpt", checkpoint_type="ema")
    assert caught.value.detail == MERGE_500


@pytest.mark.parametrize(
    ("path", "body", "location"),
    [
        ("/evaluate", {"model": "m", "tasks": "mme"}, ["body", "tasks"]),  # a bare str
        ("/evaluate", {"tasks": ["mme"]}, ["body", "model"]),
        (
            "/evaluate",
            {"model": "m", "tasks": ["mme"], "num_fewshot": "two"},
            ["body", "num_fewshot"],
        ),
        (
            "/evaluate",
            {"model": "m", "tasks": ["mme"], "model_args": "a=b"},
            ["body", "model_args"],
        ),
        (
            "/merge",
            {"checkpoint_path": "/c", "checkpoint_type": "best"},
            ["body", "checkpoint_type"],
        ),
        ("/merge", {}, ["body", "checkpoint_path"]),
    ],
)
async def test_malformed_bodies_are_422(
    http: httpx.AsyncClient, path: str, body: dict[str, object], location: list[str]
) -> None:
    response = await http.post(path, json=body)
    assert response.status_code == 422
    details = response.json()["detail"]
    assert location in [detail["loc"] for detail in details]
    assert all({"loc", "msg", "type"} <= set(detail) for detail in details)


async def test_body_that_is_not_json_is_422(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/evaluate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
