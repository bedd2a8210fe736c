"""pytest fixtures serving a fresh local lmms-eval-compatible server to each test.

Opt in from your top-level ``conftest.py``::

    pytest_plugins = ["lmms_eval_client.testing.pytest_plugin"]

Fixtures (all function-scoped: the server starts in milliseconds, and every test gets
its own jobs and queue):

* ``lmms_eval_server_config``: the :class:`LocalServerConfig` used; override this fixture
  to change it (default: 0.1 s jobs, temporary output dirs under the test's tmp_path);
* ``lmms_eval_server``: a running :class:`LocalServer` (``.url``), stopped after the test;
* ``lmms_eval_client``: an ``EvalClient`` connected to it, closed after the test;
* ``async_lmms_eval_client``: an ``AsyncEvalClient`` connected to it, closed after the
  test (needs pytest-asyncio, or an equivalent async plugin).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient

from ._config import LocalServerConfig
from ._server import LocalServer

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(func: _F) -> _F:
    """pytest-asyncio's fixture decorator (needed in its strict mode), else pytest's."""
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - another async plugin may handle async fixtures
        return cast(_F, pytest.fixture(func))
    return cast(_F, pytest_asyncio.fixture(func))


__all__ = [
    "async_lmms_eval_client",
    "lmms_eval_client",
    "lmms_eval_server",
    "lmms_eval_server_config",
]

TEST_JOB_DURATION = 0.1


@pytest.fixture
def lmms_eval_server_config(tmp_path: Path) -> LocalServerConfig:
    """The local server's configuration; override this fixture to change it."""
    root = tmp_path / "lmms_eval_jobs"
    root.mkdir(exist_ok=True)
    return LocalServerConfig(job_duration=TEST_JOB_DURATION, temp_dir_root=root)


@pytest.fixture
def lmms_eval_server(lmms_eval_server_config: LocalServerConfig) -> Iterator[LocalServer]:
    """A fresh local lmms-eval-compatible server on a free loopback port."""
    with LocalServer(lmms_eval_server_config) as server:
        yield server


@pytest.fixture
def lmms_eval_client(lmms_eval_server: LocalServer) -> Iterator[EvalClient]:
    """An EvalClient connected to ``lmms_eval_server``."""
    with EvalClient(lmms_eval_server.url) as client:
        yield client


@_async_fixture
async def async_lmms_eval_client(lmms_eval_server: LocalServer) -> AsyncIterator[AsyncEvalClient]:
    """An AsyncEvalClient connected to ``lmms_eval_server``."""
    async with AsyncEvalClient(lmms_eval_server.url) as client:
        yield client
