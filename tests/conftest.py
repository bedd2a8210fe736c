"""Fixtures every test folder shares; a folder's own conftest adds only what is its own.

- The developer's environment never leaks in: ``LMMS_EVAL_*`` settings and proxies are
  cleared for every test (``_clean_env``), and loopback is never proxied.
- The real lmms-eval 0.7.3 server on 127.0.0.1 (see tests/servers.py):
  ``real_server_url`` (one for the session, for requests that do not depend on its queue),
  ``start_real_server`` (a factory: ``with start_real_server(hold_jobs=True) as server:``),
  ``held_real_server`` (a fresh one whose jobs stay ``running`` until ``release_jobs()``).
  A server is only started when a test asks for one of these.
- The local lmms-eval-compatible server: the project's own pytest plugin
  (``lmms_eval_server``, ``lmms_eval_client``, ``async_lmms_eval_client``), and
  ``local_server``, a fresh one on an explicit loopback port per test (``server_config``).
- Clients of both kinds: ``kind`` (sync, async), ``make_caller``/``caller`` over a respx
  ``mock`` of http://lmms.test with a fake ``clock``, ``make_client`` over real sockets.
- Real trackers (tests/trackers, and the command line's ``runs export --to``):
  ``shared_mlflow_server`` (the run's `mlflow server` on a free loopback port),
  ``mlflow_env`` (a tracker that is down fails at once), ``wandb_offline`` (W&B offline
  in the test's own folder: no network).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import respx

from lmms_eval_client import AsyncEvalClient, EvalClient
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from .faults import Sleeper, start_local_server
from .servers import RealServer, real_server
from .support import BASE, Caller, FakeClock, MakeClient, NetCaller
from .trackers._mlflow import MlflowServer, shared_mlflow, stop_shared_mlflow

pytest_plugins = ["lmms_eval_client.testing.pytest_plugin", "tests.postgres"]

# A folder every process of the test run shares (the main process makes it; its xdist
# workers inherit the variable): the run's shared `mlflow server` is recorded there.
RUN_DIR_ENV = "LMMS_CLIENT_TESTS_RUN_DIR"


@pytest.hookimpl(optionalhook=True)  # (`pytest -p no:xdist`: no such hook)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than cores. With one per core, a third of the cores' time
    went idle while tests waited on servers, subprocesses and real clocks; the extra worker
    fills it: on 2 cores, 478 s with 2 workers, 400 s with 3 (2026-12-05). A timing test that
    this load can break was already broken on a busy machine."""
    return (os.cpu_count() or 1) + 1


def pytest_configure(config: pytest.Config) -> None:
    """The Python processes the tests start (the console script, snippets, harvesters, the
    xdist workers) cache the package's bytecode (``__pycache__``, ignored by git, as a
    developer's own runs do). Under PYTHONDONTWRITEBYTECODE, set on CI's machines, each one
    compiled the package again: ~50 ms of CPU per process, hundreds of processes. (Not
    PYTHONPYCACHEPREFIX: under it the installed packages' bytecode is not read either.)"""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if not hasattr(config, "workerinput"):  # the run's main process; its workers inherit it
        run_dir = tempfile.mkdtemp(prefix="lmms-tests-run-")
        os.environ[RUN_DIR_ENV] = run_dir
        _scratch_in(Path(run_dir))
    # Started in the background (`.ci/run &`), a process inherits SIGINT ignored, and so
    # does each command a test sends Ctrl+C to: it never stopped (5 tests hung 30 s each).
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _scratch_in(run_dir: Path) -> None:
    """Every temporary folder the tests' servers and processes make without being told where
    (a job sent without output_dir: the servers' ``lmms_eval_*``, as lmms-eval's) goes in
    the run's folder, removed with it: each run left ~8 in /tmp. Pytest's own (``tmp_path``,
    its last three runs kept for a look after a failure) stay where they were."""
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    scratch = run_dir / "tmp"
    scratch.mkdir()
    # As /tmp is: the PostgreSQL fixture's server runs as another user, its files in here.
    run_dir.chmod(0o755)
    scratch.chmod(0o1777)
    os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = None  # read TMPDIR again (this process's later ones too)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's main process, after every worker (and after `pytest --help`, which runs
    no session): stop what the run shares."""
    if not hasattr(config, "workerinput") and RUN_DIR_ENV in os.environ:
        run_dir = Path(os.environ.pop(RUN_DIR_ENV))
        stop_shared_mlflow(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


# Settings a developer may have exported, which would change what a test sends.
_SETTINGS = (
    "LMMS_EVAL_BASE_URL",
    "LMMS_EVAL_BASE_URLS",
    "LMMS_EVAL_API_KEY",
    "LMMS_EVAL_OUTPUT_ROOT",
    "LMMS_EVAL_LEDGER",
    "LMMS_EVAL_LEDGER_ALLOW_NETWORK_FS",
)
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own settings (and proxies) must not leak into the tests."""
    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name in _PROXIES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# -- the real server ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_server_url() -> Iterator[str]:
    """Base URL of a real server shared by the session (its jobs are not held)."""
    with real_server() as server:
        yield server.url


@pytest.fixture
def start_real_server() -> Callable[..., AbstractContextManager[RealServer]]:
    """Start another, independent real server: ``with start_real_server() as server: ...``."""
    return real_server


@pytest.fixture
def held_real_server() -> Iterator[RealServer]:
    """A fresh real server for this test only, holding its jobs until ``release_jobs()``."""
    with real_server(hold_jobs=True) as server:
        yield server


# -- the local server --------------------------------------------------------------------


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


# -- clients of both kinds ---------------------------------------------------------------


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    """Every httpx request is served by respx; an unrouted one fails the test."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_caller(kind: str, clock: FakeClock) -> AsyncIterator[Callable[..., Caller]]:
    """Build a client of the current kind (closed at teardown) wired to the fake clock."""
    made: list[Caller] = []

    def make(*args: Any, **kwargs: Any) -> Caller:
        if kind == "sync":
            client: EvalClient | AsyncEvalClient = EvalClient(*args, **kwargs)
            client._sleep = clock.sleep  # type: ignore[method-assign]
        else:
            client = AsyncEvalClient(*args, **kwargs)
            client._sleep = clock.asleep  # type: ignore[method-assign]
        client._clock = clock  # type: ignore[method-assign]
        caller = Caller(client)
        made.append(caller)
        return caller

    yield make
    for caller in made:
        await caller.close()


@pytest.fixture
def caller(make_caller: Callable[..., Caller], mock: respx.MockRouter) -> Caller:
    return make_caller(BASE)


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


# -- real trackers -------------------------------------------------------------------------


@pytest.fixture
def mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tracker that is down fails at once instead of after MLflow's minutes of retries.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


@pytest.fixture
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """W&B offline in this test's folder: nothing leaves the machine."""
    import wandb

    folder = tmp_path / "wandb-dir"
    folder.mkdir()
    for name, value in {
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(folder),
        "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
    }.items():
        monkeypatch.setenv(name, value)
    yield folder
    wandb.teardown()  # wandb reads its settings once per process: the next test's are new


@pytest.fixture(scope="session")
def shared_mlflow_server() -> MlflowServer:
    """The run's one `mlflow server` (tests/trackers/_mlflow.py says why one), for every
    test that does not need a fresh store: tests/cli and tests/trackers use it as
    ``mlflow_server``, each with runs and experiments of its own names."""
    return shared_mlflow(Path(os.environ[RUN_DIR_ENV]))


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process of this host (a ledger's writer, another submitter) until the test
    ends (or kills it)."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()
