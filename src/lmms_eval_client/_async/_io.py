"""What only the async classes do differently, kept small: sleeping, and what the garbage
collector does with a client that was never closed (a ResourceWarning: closing needs the
event loop, which may be gone). Its sync twin is ``_sync/_io.py``, also written by hand."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from lmms_eval_api.types import Response

# One attempt of a request: a call of a generated endpoint function.
Send = Callable[[], Awaitable[Response[Any]]]


async def sleep(seconds: float) -> None:
    """Sleep without blocking the event loop."""
    # anyio, as httpx uses, so trio works too; imported on first use: it pulls in asyncio,
    # ~10 ms at import that sync users never need.
    import anyio

    await anyio.sleep(seconds)


class ClosesAtCollection:
    """Warns when a client that owns its connections is collected unclosed."""

    _owns_http_client: bool
    _http: httpx.AsyncClient

    def __del__(self) -> None:
        # Closing needs the event loop, which may be gone: warn instead of scheduling work
        # on it (that is what makes other clients print "Event loop is closed").
        try:
            unclosed = self._owns_http_client and not self._http.is_closed
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
