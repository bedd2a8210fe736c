"""Helpers shared by the tests: the fake server URL, JSON bodies, a fake clock, callers of
either kind of client."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient

if TYPE_CHECKING:
    from .faults import Sleeper

T = TypeVar("T")

MINIMAL_REQUESTS = pytest.mark.filterwarnings("ignore::lmms_eval_client.ModelNameWarning")
"""For a module whose requests name no model in model_args on purpose (``evaluate("qwen2_vl",
["mme"])``: what the wire, retries or errors do does not depend on it). The warning itself
is asserted in tests/client/test_evaluate_body.py; everywhere else a warning fails the test.
"""

BASE = "http://lmms.test"
JOB_ID = "0123456789abcdef"


def job_json(status: str = "queued", job_id: str = JOB_ID, **fields: Any) -> dict[str, Any]:
    """A GET /jobs/{id} body as lmms-eval 0.7.3 sends it."""
    body: dict[str, Any] = {
        "job_id": job_id,
        "status": status,
        "created_at": "2026-01-01T00:00:00",
        "request": {"model": "qwen2_vl", "tasks": ["mmmu_val"]},
        "started_at": None,
        "completed_at": None,
        "result": None,
        "error": None,
        "position_in_queue": None,
    }
    body.update(fields)
    return body


SUBMIT_JSON = {"job_id": JOB_ID, "status": "queued", "position_in_queue": 0, "message": "queued"}
HEALTH_JSON = {"status": "healthy", "timestamp": "2026-01-01T00:00:00", "queue_size": 0}
QUEUE_JSON = {
    "queue_size": 1,
    "queued_jobs": ["b"],
    "completed_jobs": 2,
    "failed_jobs": 1,
    "running_job": "a",
}


class FakeClock:
    """A monotonic clock that only moves when slept on (or when told to)."""

    # Far beyond what any test sleeps: a loop that gets there would never end, and fails
    # at once instead of spinning (and logging) until the per-test timeout.
    MAX_SLEEPS = 10_000

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        if len(self.sleeps) >= self.MAX_SLEEPS:
            raise AssertionError(f"slept {self.MAX_SLEEPS} times: this loop never ends")
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Caller:
    """Calls the methods of an EvalClient or an AsyncEvalClient, always as coroutines.

    ``await caller.get_job("x")`` runs the sync method directly, or awaits the async one,
    so one test body covers both clients.
    """

    def __init__(self, client: EvalClient | AsyncEvalClient) -> None:
        self.client = client
        self.is_async = isinstance(client, AsyncEvalClient)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if self.is_async:
                assert inspect.isawaitable(result), f"AsyncEvalClient.{name} is not async"
                return await result
            assert not inspect.isawaitable(result), f"EvalClient.{name} returned an awaitable"
            return result

        return call

    async def close(self) -> None:
        result = self.client.close()
        if self.is_async:
            await result


# model_args that name a result folder, so a simulated job can complete
QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


class NetCaller(Caller):
    """A Caller (sync or async client, called as coroutines) whose sleeps are recorded."""

    def __init__(self, client: EvalClient | AsyncEvalClient, sleeper: Sleeper) -> None:
        super().__init__(client)
        self.sleeper = sleeper


MakeClient = Callable[..., NetCaller]


async def resolve(value: T | Awaitable[T]) -> T:
    """The value a sync client returned, or what an async client's coroutine gives."""
    if inspect.isawaitable(value):
        return await value
    return value
