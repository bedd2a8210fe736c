"""Fixtures of the run tests: a local server, clients of both kinds, runs over them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import AsyncEvalClient, AsyncEvalRun, EvalClient, EvalRun
from lmms_eval_client.testing import LocalServerConfig

from ._support import Runner


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    """Jobs of 0.05 s unless a request says otherwise; output under the test's tmp_path."""
    return LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)


MakeRunner = Callable[..., Runner]


@pytest.fixture
async def make_runner(kind: str, tmp_path: Path) -> AsyncIterator[MakeRunner]:
    """``make_runner(base_url, ledger=..., **run_options)``: a run of the current kind over a
    fresh client; the client's and the run's sleeps are capped at 10 ms."""
    made: list[tuple[Any, Any]] = []

    def make(
        base_url: str,
        ledger: str | Path | None = None,
        *,
        client_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> Runner:
        path = ledger if ledger is not None else tmp_path / "run.sqlite"
        options.setdefault("poll_interval", 0.02)
        client: EvalClient | AsyncEvalClient
        run: EvalRun | AsyncEvalRun
        if kind == "sync":
            client = EvalClient(base_url, **(client_options or {}))
            run = EvalRun(client, path, **options)
        else:
            client = AsyncEvalClient(base_url, **(client_options or {}))
            run = AsyncEvalRun(client, path, **options)
        runner = Runner(run)
        client._sleep = runner.run._sleep  # type: ignore[assignment]
        made.append((client, run))
        return runner

    yield make
    for client, run in made:
        for closing in (run.close(), client.close()):
            if closing is not None:
                await closing
