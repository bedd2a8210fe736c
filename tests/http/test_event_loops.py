"""One AsyncEvalClient and several event loops (issue 9, item 6), over real sockets.

Notebooks, Celery tasks and scripts that call ``asyncio.run()`` twice reuse one client in
a new loop; before the fix, its kept-alive connection (bound to the closed loop) made
httpcore raise a raw ``RuntimeError: Event loop is closed``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import cast

import httpx
import pytest

from lmms_eval_client import (
    APITimeoutError,
    AsyncEvalClient,
    EventLoopError,
    JobInfo,
    ResponseTooLargeError,
)
from lmms_eval_client._http._async._io import _LoopEnd
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import Script, proxy, respond
from .test_time_budget import HEADER_DRIP, JOB, MARGIN

# A loop closed by hand (not by asyncio.run) leaves the connections opened in it to the
# garbage collector: they cannot be closed without their loop, and asyncio says "unclosed
# transport" when they are collected. The tests that do so on purpose expect the warning;
# it is collected before each test ends (not in whichever test the collector runs next).
LEFT_TO_THE_COLLECTOR = pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")


@pytest.fixture(autouse=True)
def _collect_connections_of_closed_loops() -> Iterator[None]:
    yield
    gc.collect()


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


def _unclosed_after(use: Callable[[], None]) -> list[str]:
    """The "unclosed" ResourceWarnings that using a client, then collecting, gives."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        use()
        gc.collect()
    return [str(w.message) for w in seen if "unclosed" in str(w.message)]


def test_a_loop_that_ends_closes_the_connections_the_client_opened_in_it(
    server: LocalServer,
) -> None:
    # asyncio.run() closes a loop's open async generators before the loop: the client's
    # connections of that loop are closed in it, not left to the garbage collector.
    def use() -> None:
        client = AsyncEvalClient(server.url)
        assert asyncio.run(_status(client)) == "healthy"  # leaves a kept-alive connection
        assert asyncio.run(_status(client)) == "healthy"
        asyncio.run(client.close())

    assert _unclosed_after(use) == []


@LEFT_TO_THE_COLLECTOR
def test_a_loop_closed_by_hand_leaves_no_error_behind(server: LocalServer) -> None:
    # A loop closed without asyncio.run's clean-up: the next loop still serves, and nothing
    # raises where no one can catch it (a generator finalizer on a closed loop).
    unraisable: list[object] = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        client = AsyncEvalClient(server.url)
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(_status(client)) == "healthy"
        loop.close()
        assert asyncio.run(_status(client)) == "healthy"
        asyncio.run(client.close())
        del client
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert unraisable == []


def test_a_client_closed_in_a_loop_closed_by_hand_leaves_no_task_behind(
    server: LocalServer,
) -> None:
    # close() ends the client's watch of its loop's end (an async generator) itself. Left
    # to the collector, the generator's finalizer gave the loop a task that it never ran,
    # and asyncio logged "Task was destroyed but it is pending!" (seen in make bench).
    async def use() -> None:
        client = AsyncEvalClient(server.url)
        assert await _status(client) == "healthy"
        await client.close()

    errors: list[dict[str, object]] = []
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        loop.run_until_complete(use())
    finally:
        loop.close()
    gc.collect()
    assert [context["message"] for context in errors] == []


def test_close_while_the_loops_end_is_closing_the_watch_raises_nothing() -> None:
    # asyncio.run's end closes the watch (awaiting the pool's close) while a user's async
    # generator, closed with it, calls close(), which ends the same watch: not "aclose():
    # asynchronous generator is already running".
    async def scenario() -> None:
        release = asyncio.Event()

        class SlowPool:
            async def aclose(self) -> None:
                await release.wait()

        watch = _LoopEnd(cast(httpx.AsyncClient, SlowPool()))
        by_the_loops_end = asyncio.ensure_future(watch._watch.aclose())
        await asyncio.sleep(0)  # the loop's end is now awaiting the pool's close
        await watch.end()
        release.set()
        await by_the_loops_end

    asyncio.run(scenario())


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


@LEFT_TO_THE_COLLECTOR
def test_an_injected_client_of_a_closed_loop_says_what_to_do(server: LocalServer) -> None:
    http = httpx.AsyncClient(base_url=server.url)
    client = AsyncEvalClient(http_client=http)
    assert asyncio.run(_status(client)) == "healthy"
    with pytest.raises(EventLoopError, match="inside the running loop"):
        asyncio.run(_status(client))


# Issue 19: following a new loop rebuilt the httpx client without the bounded sender, so
# from the second loop on the response cap and the whole-request time budget were gone.


def test_a_client_in_a_new_loop_keeps_its_response_cap() -> None:
    big = {"status": "healthy", "timestamp": "2026-12-02T05:00:00", "queue_size": 0}
    body = json.dumps({**big, "padding": "x" * 5000}).encode()  # 5 KB, valid otherwise
    with proxy(None, Script(then=respond(200, body))) as p:
        client = AsyncEvalClient(p.url, max_response_bytes=1024, max_retries=0)
        try:
            for loop in ("first", "second", "third"):
                with pytest.raises(ResponseTooLargeError):
                    asyncio.run(client.health())
                assert len(p.seen) == {"first": 1, "second": 2, "third": 3}[loop]
        finally:
            asyncio.run(client.close())


@pytest.mark.slow
def test_a_client_in_a_new_loop_keeps_its_time_budget() -> None:
    """Headers dripped a byte every 0.5 s never trip httpx's 1 s per-read timeout: only
    the budget ends the request after 1 s, in the second loop as in the first."""

    async def get_job(client: AsyncEvalClient) -> JobInfo:
        # The outer bound: a client that lost its budget fails the test, not hangs it.
        return await asyncio.wait_for(client.get_job("job-1"), 1 + MARGIN)

    with proxy(None, Script(HEADER_DRIP, HEADER_DRIP, then=respond(200, JOB))) as p:
        client = AsyncEvalClient(p.url, timeout=1, max_retries=0)
        try:
            for _ in ("first", "second"):
                with pytest.raises(APITimeoutError):
                    asyncio.run(get_job(client))
        finally:
            asyncio.run(client.close())


@LEFT_TO_THE_COLLECTOR  # (the pool opened again at the loop's very end is left so)
# asyncio's word on httpx's own async generator (its auth flow) begun that late:
@pytest.mark.filterwarnings("ignore:asynchronous generator:ResourceWarning")
def test_a_generator_cleaned_up_after_the_loops_end_closed_the_pool_still_sends(
    server: LocalServer,
) -> None:
    # The review: asyncio.run closes a loop's async generators together, in no set order;
    # a user's whose cleanup sends came after the client's (which closes its pool) and got
    # ClientClosedError, although close() was never called. A pool is opened again for it.
    client = AsyncEvalClient(server.url)
    said: list[str] = []

    async def statuses() -> AsyncIterator[str]:
        try:
            while True:
                yield await _status(client)
        finally:
            said.append(await _status(client))

    async def main() -> list[AsyncIterator[str]]:
        kept = [statuses() for _ in range(5)]
        for generator in kept:
            await generator.__anext__()
        return kept  # left open: the loop's end closes them

    asyncio.run(main())
    assert said == ["healthy"] * 5
    asyncio.run(client.close())
