"""Fixtures that start the real lmms-eval 0.7.3 server on 127.0.0.1 (see tests/servers.py).

- ``real_server_url``: one server for the whole session, for requests that do not depend on
  the state of its queue.
- ``start_real_server``: a factory, ``with start_real_server(hold_jobs=True) as server:``
  (also ``max_completed_jobs=N``), for a test that needs a server of its own.
- ``held_real_server``: a fresh server for one test, whose jobs stay ``running`` until
  ``held_real_server.release_jobs()``: queue positions are then predictable.

A server is only started when a test asks for one of these fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from .servers import RealServer, real_server


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
