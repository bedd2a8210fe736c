"""Both backends, both clients: the fixtures of the integration suite.

Every test of ``tests/client`` that asks for ``server`` runs against each backend, started
on a free loopback port:

* ``local``: the SDK's own lmms-eval-compatible server (``lmms_eval_client.testing``,
  a :class:`LocalServer` in a background thread), simulated jobs;
* ``real``: the real lmms-eval 0.7.3 server (``tests/servers.py``), whose jobs all fail
  here (no ML stack: its ``python -m lmms_eval`` subprocess exits 1 at import).

and, through ``connect``, with each client (``EvalClient``, ``AsyncEvalClient``): the test
is written once and ``resolve()`` awaits what the async client returns.

The same requests go to both backends. Their ``model_args`` carry the local server's
``sim_*`` keys, which make its job end the way the real server's does here (a crash:
``Evaluation failed with return code 1...``); the real server passes them on to
lmms-eval, which fails before reading them.

Holding jobs (to observe queued states): a server started with ``hold_jobs=True`` keeps
its first job (``submit_blocker``) running until ``server.release_jobs()``. The real
server holds every job's subprocess at a gate (``tests/servers.py``); the local server
holds every job at its ``JobGate`` (``LocalServerConfig(job_gate=...)``). Either way,
once released, the held job and every later one run to their end.

A test that needs a state one backend cannot reach skips there, saying why (``Backend``'s
``completes_jobs`` and ``lists_tasks``). A test that passes on one backend and fails on
the other shows a difference of behaviour: a bug of the local server, which must behave
as the real one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient, JobStatus, JobSubmitResponse
from lmms_eval_client.testing import JobGate, LocalServer, LocalServerConfig

from ..servers import poll_until, real_server
from ..support import resolve

T = TypeVar("T")
AnyClient = EvalClient | AsyncEvalClient

LOCAL_JOB_DURATION = 0.05  # seconds a local job runs unless its model_args say otherwise
POLL = 0.05  # wait_for_job's poll interval in these tests

# The request every job of the suite sends: a model and a task both servers know, and,
# for the local server, a crash after a short run (the real server's jobs fail that way
# here). The blocker is such a job too: held by the server's gate, not by its duration.
MODEL = "qwen2_vl"
TASKS = ["mme"]
JOB_ARGS: dict[str, Any] = {"sim_outcome": "crash", "sim_duration": LOCAL_JOB_DURATION}
BLOCKER_ARGS: dict[str, Any] = JOB_ARGS
# What a job that crashed reports, on both servers.
CRASHED = "Evaluation failed with return code 1. Last lines of "
# What the real server's GET /tasks reports here (the first module it misses); the local
# server is told to say the same.
TASKS_UNAVAILABLE = "No module named 'numpy'"


# -- servers ---------------------------------------------------------------------------


@dataclass
class Server:
    """A running server of either backend, as the tests see it."""

    backend: str
    url: str
    held: bool = False
    _release: Callable[[], None] | None = None

    def release_jobs(self) -> None:
        """Let the held jobs, and every later one, run to their end."""
        if not self.held or self._release is None:
            raise RuntimeError("this server was started without hold_jobs=True")
        self._release()


class Backend:
    """How to start one kind of server, and which states its jobs can reach here."""

    name: str
    completes_jobs: bool
    lists_tasks: bool

    def start(
        self,
        *,
        hold_jobs: bool = False,
        max_completed_jobs: int | None = None,
        tasks_unavailable: bool = False,
    ) -> AbstractContextManager[Server]:
        """A fresh server for one test.

        Args:
            hold_jobs: Keep the first job (``submit_blocker``) running until
                ``release_jobs()``.
            max_completed_jobs: Finished jobs the server keeps (default: 100).
            tasks_unavailable: GET /tasks fails, reporting ``TASKS_UNAVAILABLE``.
        """
        raise NotImplementedError


class LocalBackend(Backend):
    name = "local"
    completes_jobs = True
    lists_tasks = True

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    @contextmanager
    def start(
        self,
        *,
        hold_jobs: bool = False,
        max_completed_jobs: int | None = None,
        tasks_unavailable: bool = False,
    ) -> Iterator[Server]:
        root = self.tmp_path / "local-server-jobs"
        root.mkdir(exist_ok=True)
        gate = JobGate() if hold_jobs else None
        config = LocalServerConfig(
            job_duration=LOCAL_JOB_DURATION,
            temp_dir_root=root,
            max_completed_jobs=100 if max_completed_jobs is None else max_completed_jobs,
            tasks_error=TASKS_UNAVAILABLE if tasks_unavailable else None,
            job_gate=gate,
        )
        try:
            with LocalServer(config) as local:
                yield Server(
                    backend=self.name,
                    url=local.url,
                    held=hold_jobs,
                    _release=None if gate is None else gate.release,
                )
        finally:
            if gate is not None:
                gate.release()  # a held job must not outlive the test


class RealBackend(Backend):
    name = "real"
    # Without lmms-eval's ML stack (torch, transformers...), which these tests do not
    # install, every evaluation subprocess exits 1 at import and GET /tasks cannot index
    # the task YAMLs.
    completes_jobs = False
    lists_tasks = False

    @contextmanager
    def start(
        self,
        *,
        hold_jobs: bool = False,
        max_completed_jobs: int | None = None,
        tasks_unavailable: bool = False,
    ) -> Iterator[Server]:
        # tasks_unavailable: always so here (see lists_tasks); nothing to set up.
        with real_server(hold_jobs=hold_jobs, max_completed_jobs=max_completed_jobs) as real:
            yield Server(
                backend=self.name,
                url=real.url,
                held=hold_jobs,
                _release=real.release_jobs if hold_jobs else None,
            )


REAL_SKIP_COMPLETED = (
    "the real lmms-eval server here has no ML stack (torch, transformers, model weights): "
    "its evaluation subprocess exits 1 at import, so a job can only fail, never complete"
)
REAL_SKIP_TASKS = (
    "the real lmms-eval server here has no ML stack: GET /tasks cannot index the task "
    f"YAMLs and answers {{'tasks': [], 'error': {TASKS_UNAVAILABLE!r}}}"
)


@pytest.fixture(
    params=["local", pytest.param("real", marks=pytest.mark.real_server)],
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each backend in turn."""
    if request.param == "local":
        return LocalBackend(tmp_path)
    return RealBackend()


@pytest.fixture
def start_server(backend: Backend) -> Callable[..., AbstractContextManager[Server]]:
    """``with start_server(hold_jobs=True, max_completed_jobs=2) as server:``: a fresh one."""
    return backend.start


@pytest.fixture
def server(backend: Backend, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server for tests that do not depend on its queue: fresh for the local backend,
    the session's for the real one (its jobs are not held)."""
    if isinstance(backend, RealBackend):
        yield Server(backend=backend.name, url=request.getfixturevalue("real_server_url"))
        return
    with backend.start() as local:
        yield local


@pytest.fixture
def fresh_server(start_server: Callable[..., AbstractContextManager[Server]]) -> Iterator[Server]:
    """A fresh server of this test's backend (jobs not held), for tests counting jobs."""
    with start_server() as started:
        yield started


@pytest.fixture
def held_server(start_server: Callable[..., AbstractContextManager[Server]]) -> Iterator[Server]:
    """A fresh server of this test's backend whose first job stays running (see module)."""
    with start_server(hold_jobs=True) as started:
        yield started


# -- clients ---------------------------------------------------------------------------


@pytest.fixture(params=[EvalClient, AsyncEvalClient], ids=["EvalClient", "AsyncEvalClient"])
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
    """``connect(url)``: a client of this test's class, closed at the end of the test.

    ``connect(url, event_hooks=...)`` sends through an injected httpx client of the
    matching kind with those hooks (closed at the end too).
    """
    clients: list[AnyClient] = []
    injected: list[httpx.Client | httpx.AsyncClient] = []

    def make(base_url: str, *, event_hooks: dict[str, list[Any]] | None = None) -> Any:
        if event_hooks is None:
            client = request.param(base_url, 30.0)
        else:
            http_class = httpx.Client if request.param is EvalClient else httpx.AsyncClient
            http = http_class(base_url=base_url, timeout=30.0, event_hooks=event_hooks)
            injected.append(http)
            client = request.param(http_client=http)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await resolve(client.close())
    for http in injected:
        if isinstance(http, httpx.AsyncClient):
            await http.aclose()
        else:
            http.close()


# -- jobs ------------------------------------------------------------------------------


async def submit(client: AnyClient, **options: Any) -> JobSubmitResponse:
    """Submit the suite's job (``options`` override its arguments)."""
    arguments: dict[str, Any] = {"model": MODEL, "tasks": TASKS, "model_args": JOB_ARGS}
    arguments.update(options)
    job = await resolve(client.evaluate(**arguments))
    assert isinstance(job, JobSubmitResponse)
    return job


async def submit_blocker(client: AnyClient, server: Server) -> JobSubmitResponse:
    """Submit the job that keeps a held server busy; return once it is running."""
    assert server.held, "submit_blocker needs a server started with hold_jobs=True"
    job = await submit(client, model_args=BLOCKER_ARGS)
    await poll_until(
        lambda: client.get_job(job.job_id),
        lambda info: info.status == JobStatus.RUNNING,
        timeout=10,
        what="the blocking job to run",
    )
    return job


async def wait_until_finished(client: AnyClient, job_id: str, timeout: float = 30) -> Any:
    """Poll until the job is no longer queued or running; its JobInfo."""
    return await poll_until(
        lambda: client.get_job(job_id),
        lambda info: info.status not in (JobStatus.QUEUED, JobStatus.RUNNING),
        timeout=timeout,
        what=f"job {job_id} to finish",
    )
