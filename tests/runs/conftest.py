"""Fixtures of the run tests: a local server, clients of both kinds, runs over them."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..reliability._faults import start_local_server
from ._api import AsyncEvalRun, EvalRun
from ._support import Runner


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LMMS_EVAL_BASE_URL", "LMMS_EVAL_API_KEY", "LMMS_EVAL_OUTPUT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    """Jobs of 0.05 s unless a request says otherwise; output under the test's tmp_path."""
    return LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)


@pytest.fixture
def local_server(server_config: LocalServerConfig) -> Iterator[LocalServer]:
    server = start_local_server(server_config)
    try:
        yield server
    finally:
        threading.Thread(target=server.stop, daemon=True).start()  # ~0.2 s, off the test


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
