"""Serving the app in process: its lifespan, and an httpx.AsyncClient over ASGITransport."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from ._app import create_app
from ._config import LocalServerConfig

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]

DEFAULT_ASGI_BASE_URL = "http://lmms-eval.local"


class LifespanError(RuntimeError):
    """The app's lifespan startup or shutdown failed."""


@contextlib.asynccontextmanager
async def running_lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan (startup on entry, shutdown on exit) in this event loop.

    What an ASGI server does around serving; needed when requests reach the app through
    ``httpx.ASGITransport``, which sends no lifespan events.

    Raises:
        LifespanError: The app reported a failed startup or shutdown.
    """
    to_app: asyncio.Queue[Message] = asyncio.Queue()
    from_app: asyncio.Queue[Message] = asyncio.Queue()
    scope: dict[str, Any] = {
        "type": "lifespan",
        "asgi": {"version": "3.0", "spec_version": "2.0"},
        "state": {},
    }

    async def receive() -> Message:
        return await to_app.get()

    async def send(message: Message) -> None:
        await from_app.put(message)

    task = asyncio.ensure_future(app(scope, receive, send))

    async def exchange(event: str) -> None:
        await to_app.put({"type": f"lifespan.{event}"})
        answer = asyncio.ensure_future(from_app.get())
        done, _ = await asyncio.wait({answer, task}, return_when=asyncio.FIRST_COMPLETED)
        if answer not in done:
            answer.cancel()
            exc = task.exception() if not task.cancelled() else None
            raise LifespanError(f"the app ended during lifespan {event}: {exc!r}") from exc
        message = answer.result()
        if message["type"] != f"lifespan.{event}.complete":
            raise LifespanError(f"lifespan {event} failed: {message.get('message', '')}")

    try:
        await exchange("startup")
        try:
            yield
        finally:
            await exchange("shutdown")
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@contextlib.asynccontextmanager
async def asgi_client(
    config: LocalServerConfig | None = None,
    *,
    app: ASGIApp | None = None,
    base_url: str = DEFAULT_ASGI_BASE_URL,
) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh local server in this event loop, and an httpx.AsyncClient talking to it.

    No socket, no thread: requests go through ``httpx.ASGITransport`` and the simulated
    jobs run in this event loop. Use it with the async facade::

        async with asgi_client(LocalServerConfig(job_duration=0.1)) as http:
            client = AsyncEvalClient(http_client=http)
            job = await client.evaluate(...)

    (The sync ``EvalClient`` cannot use ASGITransport: use :class:`LocalServer`.)

    Args:
        config: The server's behaviour (ignored when ``app`` is given).
        app: An app to serve instead of a new ``create_app(config)``.
        base_url: The client's base URL; any host will do.
    """
    target = app if app is not None else create_app(config)
    async with running_lifespan(target):
        transport = httpx.ASGITransport(app=target)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
