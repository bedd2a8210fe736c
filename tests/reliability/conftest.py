"""Fixtures of the fault-injection tests: both clients over real loopback sockets, a local
lmms-eval-compatible server, and the client's log records."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..unit._support import Caller
from ._faults import Sleeper, start_local_server

# model_args that name a result folder, so a simulated job can complete
QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own settings (and proxies) must not leak into loopback tests."""
    for name in (
        "LMMS_EVAL_BASE_URL",
        "LMMS_EVAL_API_KEY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


class NetCaller(Caller):
    """A Caller (sync or async client, called as coroutines) whose sleeps are recorded."""

    def __init__(self, client: EvalClient | AsyncEvalClient, sleeper: Sleeper) -> None:
        super().__init__(client)
        self.sleeper = sleeper


MakeClient = Callable[..., NetCaller]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_client(kind: str) -> AsyncIterator[MakeClient]:
    """Build a client of the current kind over the network; closed at teardown.

    Its sleeps (retry backoff, polls) go through a Sleeper: recorded, and really slept for
    at most 10 ms, so no test waits for a backoff.
    """
    made: list[NetCaller] = []

    def make(*args: Any, **kwargs: Any) -> NetCaller:
        sleeper = Sleeper()
        client: EvalClient | AsyncEvalClient
        if kind == "sync":
            client = EvalClient(*args, **kwargs)
            client._sleep = sleeper.sync  # type: ignore[assignment]
        else:
            client = AsyncEvalClient(*args, **kwargs)
            client._sleep = sleeper.asynchronous  # type: ignore[assignment]
        caller = NetCaller(client, sleeper)
        made.append(caller)
        return caller

    yield make
    for caller in made:
        await caller.close()


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    """Jobs of 5 s unless a request says otherwise; their output under the test's tmp_path."""
    return LocalServerConfig(job_duration=5.0, temp_dir_root=tmp_path)


# Stopping a LocalServer takes uvicorn ~0.2 s (its shutdown polls every 0.1 s): the servers
# of finished tests stop in the background, all joined before the session ends.
_stopping: list[threading.Thread] = []


@pytest.fixture(scope="session", autouse=True)
def _join_stopping_servers() -> Iterator[None]:
    yield
    for thread in _stopping:
        thread.join(30)
    assert not any(thread.is_alive() for thread in _stopping), "a LocalServer did not stop"


@pytest.fixture
def local_server(server_config: LocalServerConfig) -> Iterator[LocalServer]:
    """A fresh local server on an explicit loopback port, stopped after the test."""
    server = start_local_server(server_config)
    try:
        yield server
    finally:
        stopper = threading.Thread(target=server.stop, name=f"stop {server!r}", daemon=True)
        stopper.start()
        _stopping.append(stopper)
