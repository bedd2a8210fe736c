"""What only the async classes do differently, kept small: sleeping, following the event
loop, and what the garbage collector does with a client that was never closed (a
ResourceWarning: closing needs the event loop, which may be gone). Its sync twin is
``_sync/_io.py``, also written by hand."""

from __future__ import annotations

import contextlib
import warnings
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import httpx

from lmms_eval_api.client import Client as ApiClient

from ..._exceptions import EventLoopError
from ..config import build_http_client
from ..options import ClientTimeout
from ..transport import AsyncBoundedSender

if TYPE_CHECKING:
    import asyncio

    import anyio

    from lmms_eval_api.types import Response  # loads pydantic: only when a request is sent

T = TypeVar("T")

# One attempt of a request: a call of a generated endpoint function, given the generated
# client of that attempt (see _api_for).
Send: TypeAlias = "Callable[[ApiClient], Awaitable[Response[Any]]]"


async def run_sync(function: Callable[[], T]) -> T:
    """Run blocking work (reading files) in a worker thread, not in the event loop."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function)


# What new_lock makes (its sync twin's is threading.Lock), for the classes both generate.
Lock: TypeAlias = "anyio.Lock"


def new_lock() -> Lock:
    """A lock for one task at a time (usable from any event loop)."""
    import anyio

    return anyio.Lock()


async def take(lock: Lock, *, wait: float | None) -> bool:
    """Take the lock, waiting for it up to ``wait`` seconds (None: as long as it takes; 0:
    only if it is free): True when taken (release it)."""
    import anyio

    if wait is None:
        await lock.acquire()
        return True
    if wait > 0:
        with anyio.move_on_after(wait):
            await lock.acquire()
            return True
        return False
    try:
        lock.acquire_nowait()
    except anyio.WouldBlock:
        return False
    return True


async def sleep(seconds: float) -> None:
    """Sleep without blocking the event loop."""
    # anyio, as httpx uses, so trio works too; imported on first use: it pulls in asyncio,
    # ~10 ms at import that sync users never need.
    import anyio

    await anyio.sleep(seconds)


class _LoopEnd:
    """Closes, when its event loop ends, the connections a client opened in that loop.

    asyncio.run() (and asyncio.Runner, as pytest-asyncio uses) closes the async generators
    still open in its loop before closing the loop, in the loop: ``_watching``, suspended
    for the loop's life, then closes the connections there; after the loop they could only
    be left to the garbage collector ("unclosed transport"). A loop closed by hand skips
    that clean-up, and asyncio then drops the generator without running it.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._watch = self._watching(http)
        with contextlib.suppress(StopIteration):  # runs to its yield: registered with the loop
            self._watch.__anext__().send(None)

    async def end(self) -> None:
        """End the watch now (its client closed): left to the garbage collector, its
        clean-up becomes a task of the loop, which a loop closed by hand never runs."""
        # RuntimeError: the loop's end is closing it right now ("already running"): it ends
        # there, as it should.
        with contextlib.suppress(RuntimeError):
            await self._watch.aclose()

    @staticmethod
    async def _watching(http: httpx.AsyncClient) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # the loop's last moments: no one to tell
                await http.aclose()


class AsyncIO:
    """Sends through the bounded sender, follows the running event loop, and warns when a
    client is collected unclosed."""

    _base_url: str
    _owns_http_client: bool
    _closed: bool
    _http: httpx.AsyncClient
    _http_kwargs: dict[str, Any] | None
    _max_response_bytes: int
    _sender: AsyncBoundedSender
    _loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
    _loop_end: _LoopEnd | None = None

    def _attach_http(self, http: httpx.AsyncClient) -> None:
        """Send through ``http`` from now on: at construction, and in each new event loop.

        The generated endpoint functions send through the bounded sender around ``http``
        (an ``attempt()`` of it): it reads the body under the size cap and ends the whole
        request within its time budget. This is the one place it is installed.
        """
        self._http = http
        self._sender = AsyncBoundedSender(
            http, self._max_response_bytes, owned=self._owns_http_client
        )

    def _api_for(
        self, timeout: httpx.Timeout | ClientTimeout, time_left: float | None
    ) -> ApiClient:
        """The generated client one attempt of a call sends through, with its bounds."""
        api = ApiClient(base_url=self._base_url)
        return api.set_async_httpx_client(self._sender.attempt(timeout, time_left))

    def _follow_loop(self) -> None:
        """Before each attempt: connections are bound to the loop that opened them."""
        import asyncio  # not at import: sync users never pay for it

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio (through anyio): no asyncio loop to follow
            return
        if self._loop is None:  # the first request
            self._enter(loop)
            return
        previous = self._loop()  # None: collected, so closed long ago
        if previous is loop:
            if self._http.is_closed and self._http_kwargs is not None:
                # The loop's end closed the pool, and another async generator's cleanup
                # (closed with it, in no set order) still sends: a pool for that.
                self._attach_http(build_http_client(httpx.AsyncClient, self._http_kwargs))
            return
        if previous is not None and not previous.is_closed():
            raise EventLoopError(
                f"{type(self).__name__} is in use in another event loop that still runs: "
                "create one client per event loop"
            )
        if self._http_kwargs is None:
            raise EventLoopError(
                "the injected http_client was used in an event loop that is now closed, and "
                "its connections cannot serve this one: create the httpx.AsyncClient (and "
                "this client) inside the running loop"
            )
        # Ours: a fresh pool for the new loop (the old loop's end closed the old one's).
        self._attach_http(build_http_client(httpx.AsyncClient, self._http_kwargs))
        self._enter(loop)

    async def _close_connections(self) -> None:
        """Close the connections the client owns (its close()), and the watch of its loop."""
        self._follow_loop()  # connections of a closed loop cannot be closed in this one
        await self._http.aclose()
        watch, self._loop_end = self._loop_end, None
        if watch is not None:
            await watch.end()

    def _enter(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        if self._owns_http_client:
            self._loop_end = _LoopEnd(self._http)

    def __del__(self) -> None:
        # Closing needs the event loop, which may be gone: warn instead of scheduling work
        # on it (that is what makes other clients print "Event loop is closed").
        try:
            # close() never called: the nudge stands even when its loop's end closed the
            # connections
            unclosed = self._http is not None and self._owns_http_client and not self._closed
        except AttributeError:  # __init__ failed before the client existed
            return
        if unclosed:
            warnings.warn(
                f"{self!r} was never closed: use 'async with {type(self).__name__}(...)' "
                "or 'await client.close()'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
