"""Helpers of the run tests: one test body for EvalRun and AsyncEvalRun, recorded sleeps,
the server's view of its jobs."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lmms_eval_client import AsyncEvalRun, EvalRun, JobOutcome
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger

from ..servers import loopback_http

# A run's ledger as the tests give it: a SQLite file, or a PostgreSQL URL (``ledger_target``)
LedgerTarget = str | Path

# model_args that name a result folder, so a simulated job can complete
QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


class Sleeps:
    """A run's ``_sleep``: records each delay, really sleeps at most ``cap`` seconds."""

    def __init__(self, cap: float = 0.01) -> None:
        self.cap = cap
        self.delays: list[float] = []

    def sync(self, seconds: float) -> None:
        self.delays.append(seconds)
        time.sleep(min(seconds, self.cap))

    async def asynchronous(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(min(seconds, self.cap))


class Runner:
    """Calls an EvalRun or an AsyncEvalRun, always as coroutines (sync methods as they are)."""

    def __init__(self, run: EvalRun | AsyncEvalRun, sleeps: Sleeps | None = None) -> None:
        self.run = run
        self.is_async = isinstance(run, AsyncEvalRun)
        self.sleeps = sleeps or Sleeps()
        run._sleep = self.sleeps.asynchronous if self.is_async else self.sleeps.sync  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.run, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if inspect.isawaitable(result):
                assert self.is_async, f"EvalRun.{name} returned an awaitable"
                return await result
            return result

        return call

    async def completed(self, timeout: float | None = None) -> list[JobOutcome]:
        """Everything ``as_completed`` yields."""
        if isinstance(self.run, AsyncEvalRun):
            return [outcome async for outcome in self.run.as_completed(timeout=timeout)]
        return list(self.run.as_completed(timeout=timeout))


def server_jobs(base_url: str) -> list[dict[str, Any]]:
    """Every job id the server lists as queued or running, with its JobInfo (direct httpx)."""
    with loopback_http(base_url) as http:
        queue = http.get("/queue").raise_for_status().json()
        ids = ([queue["running_job"]] if queue["running_job"] else []) + queue["queued_jobs"]
        return [http.get(f"/jobs/{job_id}").raise_for_status().json() for job_id in ids]


def queued_ids(base_url: str) -> set[str]:
    """The ids the server lists as queued or running."""
    with loopback_http(base_url) as http:
        queue = http.get("/queue").raise_for_status().json()
    return set(queue["queued_jobs"]) | ({queue["running_job"]} - {None})


def record_orphan(
    ledger_target: LedgerTarget, server: str, body: Any, *, token: str, labels: dict[str, Any],
    key: str | None = None,
) -> None:  # fmt: skip
    """The intent a process killed right after its POST left (its owner on a host gone, the
    queue before it empty); the POST, if it was made, is the caller's."""
    ledger = Ledger(ledger_target)
    try:
        ledger.record_intent(
            token=token, labels=labels, request=body, server=server,
            owner="a-host-that-is-gone:1:x", snapshot=QueueSnapshot((), 0, 0).to_json(), key=key,
        )  # fmt: skip
    finally:
        ledger.close()
