"""One AsyncEvalClient and several event loops (issue 9, item 6), over real sockets.

Notebooks, Celery tasks and scripts that call ``asyncio.run()`` twice reuse one client in
a new loop; before the fix, its kept-alive connection (bound to the closed loop) made
httpcore raise a raw ``RuntimeError: Event loop is closed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from lmms_eval_client import AsyncEvalClient, EventLoopError
from lmms_eval_client.testing import LocalServer, LocalServerConfig


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(LocalServerConfig(job_duration=0.05)) as started:
        yield started


async def _status(client: AsyncEvalClient) -> str:
    return (await client.health()).status


def test_a_client_follows_a_new_loop_after_the_old_one_closed(server: LocalServer) -> None:
    client = AsyncEvalClient(server.url)
    try:
        assert asyncio.run(_status(client)) == "healthy"  # leaves a kept-alive connection
        assert asyncio.run(_status(client)) == "healthy"
        assert asyncio.run(_status(client)) == "healthy"
    finally:
        asyncio.run(client.close())


def test_a_client_used_from_two_live_loops_says_what_to_do(server: LocalServer) -> None:
    client = AsyncEvalClient(server.url)
    first = asyncio.new_event_loop()
    try:
        assert first.run_until_complete(_status(client)) == "healthy"
        with pytest.raises(EventLoopError, match="one client per event loop"):
            asyncio.run(_status(client))
        assert first.run_until_complete(_status(client)) == "healthy"  # still serves its loop
    finally:
        first.run_until_complete(client.close())
        first.close()


def test_an_injected_client_of_a_closed_loop_says_what_to_do(server: LocalServer) -> None:
    http = httpx.AsyncClient(base_url=server.url)
    client = AsyncEvalClient(http_client=http)
    assert asyncio.run(_status(client)) == "healthy"
    with pytest.raises(EventLoopError, match="inside the running loop"):
        asyncio.run(_status(client))
