"""The local server answers raw requests as the real one, byte for byte where it matters.

Raw httpx against both servers (see conftest.py): bodies the SDK never sends, status
codes of routes and methods, the shape and field order of the JSON answers. The expected
values are what the real lmms-eval 0.7.3 server answers.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .conftest import JOB_ARGS, MODEL, TASKS


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        pytest.param(
            "/evaluate",
            {"model": MODEL, "tasks": "mme"},
            [
                {
                    "type": "list_type",
                    "loc": ["body", "tasks"],
                    "msg": "Input should be a valid list",
                    "input": "mme",
                }
            ],
            id="tasks-not-a-list",
        ),
        pytest.param(
            "/evaluate",
            {"tasks": TASKS},
            [
                {
                    "type": "missing",
                    "loc": ["body", "model"],
                    "msg": "Field required",
                    "input": {"tasks": TASKS},
                }
            ],
            id="model-missing",
        ),
        pytest.param(
            "/evaluate",
            {"model": MODEL, "tasks": TASKS, "num_fewshot": 1.5},
            [
                {
                    "type": "int_from_float",
                    "loc": ["body", "num_fewshot"],
                    "msg": "Input should be a valid integer, got a number with a fractional part",
                    "input": 1.5,
                }
            ],
            id="num_fewshot-float",
        ),
        pytest.param(
            "/evaluate",
            [],
            [
                {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": [],
                }
            ],
            id="not-an-object",
        ),
        pytest.param(
            "/merge",
            {"checkpoint_path": "/x", "checkpoint_type": "bogus"},
            [
                {
                    "type": "literal_error",
                    "loc": ["body", "checkpoint_type"],
                    "msg": "Input should be 'regular' or 'ema'",
                    "input": "bogus",
                    "ctx": {"expected": "'regular' or 'ema'"},
                }
            ],
            id="checkpoint_type-unknown",
        ),
        pytest.param(
            "/merge",
            {},
            [
                {
                    "type": "missing",
                    "loc": ["body", "checkpoint_path"],
                    "msg": "Field required",
                    "input": {},
                }
            ],
            id="checkpoint_path-missing",
        ),
    ],
)
def test_malformed_bodies_are_422(
    http: httpx.Client, path: str, body: Any, detail: list[dict[str, Any]]
) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


def test_body_that_is_not_json_is_422(http: httpx.Client) -> None:
    response = http.post("/evaluate", content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "json_invalid",
                "loc": ["body", 1],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting property name enclosed in double quotes"},
            }
        ]
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/jobs/", 404, {"detail": "Not Found"}),
        ("GET", "/nowhere", 404, {"detail": "Not Found"}),
        ("GET", "/jobs/..%2Fhealth", 404, {"detail": "Not Found"}),
        ("GET", "/jobs/nope", 404, {"detail": "Job nope not found"}),
        ("DELETE", "/jobs/nope", 404, {"detail": "Job nope not found"}),
        ("PUT", "/jobs/nope", 405, {"detail": "Method Not Allowed"}),
        ("POST", "/health", 405, {"detail": "Method Not Allowed"}),
        ("GET", "/evaluate", 405, {"detail": "Method Not Allowed"}),
    ],
)
def test_routes_and_methods(
    http: httpx.Client, method: str, path: str, status: int, body: dict[str, Any]
) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    assert response.json() == body


def test_unknown_request_fields_are_dropped(http: httpx.Client) -> None:
    submitted = http.post(
        "/evaluate", json={"model": MODEL, "tasks": TASKS, "model_args": JOB_ARGS, "extra": 1}
    )
    assert submitted.status_code == 200
    job = http.get(f"/jobs/{submitted.json()['job_id']}").json()
    assert job["request"] == {
        "model": MODEL,
        "tasks": TASKS,
        "model_args": JOB_ARGS,
        "num_fewshot": None,
        "batch_size": None,
        "device": None,
        "limit": None,
        "gen_kwargs": None,
        "log_samples": True,
        "predict_only": False,
        "num_gpus": 1,
        "output_dir": None,
    }


# The real server's field order (its pydantic models' declaration order).
JOB_FIELDS = [
    "job_id",
    "status",
    "created_at",
    "started_at",
    "completed_at",
    "request",
    "result",
    "error",
    "position_in_queue",
]
QUEUE_FIELDS = ["queue_size", "running_job", "queued_jobs", "completed_jobs", "failed_jobs"]


def test_field_order(http: httpx.Client) -> None:
    submitted = http.post(
        "/evaluate", json={"model": MODEL, "tasks": TASKS, "model_args": JOB_ARGS}
    )
    job_id = submitted.json()["job_id"]
    assert list(submitted.json()) == ["job_id", "status", "position_in_queue", "message"]
    deadline = time.monotonic() + 30
    while http.get(f"/jobs/{job_id}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert list(http.get("/health").json()) == ["status", "timestamp", "queue_size"]
    assert list(http.get("/queue").json()) == QUEUE_FIELDS
    assert list(http.get(f"/jobs/{job_id}").json()) == JOB_FIELDS
