"""The pool's models and errors: described fields, summaries, pickling."""

from __future__ import annotations

import copy
import pickle

import pytest
from pydantic import BaseModel

from lmms_eval_api.models import HealthResponse, QueueStatusResponse
from lmms_eval_client import (
    APIConnectionError,
    LmmsEvalError,
    NoServerAvailableError,
    PoolHealth,
    PoolJob,
    PoolJobSubmitResponse,
    PoolQueueStatus,
    ServerHealth,
    ServerQueue,
    ServerUnreachableError,
)
from lmms_eval_client._pool.status import pool_health, pool_queue

MODELS = [PoolHealth, PoolJob, PoolJobSubmitResponse, PoolQueueStatus, ServerHealth, ServerQueue]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_described(model: type[BaseModel]) -> None:
    assert model.__doc__
    assert all(field.description for field in model.model_fields.values())


def test_the_queues_are_summed_up_in_the_pools_order() -> None:
    a = QueueStatusResponse(
        queue_size=2, running_job="r1", queued_jobs=["q1", "q2"], completed_jobs=3, failed_jobs=1
    )
    b = QueueStatusResponse(
        queue_size=1, running_job=None, queued_jobs=["q3"], completed_jobs=0, failed_jobs=2
    )
    status = pool_queue(["a", "b", "c"], [a, "down (refused)", b])
    assert (status.queue_size, status.completed_jobs, status.failed_jobs) == (3, 3, 3)
    assert status.queued_jobs == ["q1", "q2", "q3"] and status.running_jobs == ["r1"]
    assert [(s.server, s.error) for s in status.servers] == [
        ("a", None),
        ("b", "down (refused)"),
        ("c", None),
    ]
    assert isinstance(status, QueueStatusResponse)  # reads as one server's
    assert status["queue_size"] == 3


def test_health_is_healthy_degraded_or_unhealthy() -> None:
    ok = HealthResponse(status="healthy", timestamp="2026-01-01T00:00:00", queue_size=2)
    assert pool_health(["a", "b"], [ok, ok]).status == "healthy"
    assert pool_health(["a", "b"], [ok, "refused"]).status == "degraded"
    down = pool_health(["a", "b"], ["refused", "refused"])
    assert (down.status, down.queue_size) == ("unhealthy", 0)
    assert down.timestamp_datetime is not None


@pytest.mark.parametrize(
    "error",
    [
        NoServerAvailableError("none", reasons={"a": "down"}),
        NoServerAvailableError(),
        ServerUnreachableError("gone", server="http://a:8000", job_id="j1"),
        ServerUnreachableError(),
    ],
    ids=repr,
)
def test_the_pool_errors_travel_whole(error: LmmsEvalError) -> None:
    for again in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(again) is type(error)
        assert str(again) == str(error)
        assert vars(again) == vars(error)
    if isinstance(error, ServerUnreachableError):
        assert isinstance(error, APIConnectionError)
