"""What only the sync classes do differently, kept small: sleeping, no event loop to follow,
and closing a client that was never closed when it is collected (safe: no event loop).
Its async twin is ``_async/_io.py``; both are written by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx

from lmms_eval_api.types import Response

from ..transport import BoundedSender

if TYPE_CHECKING:
    from lmms_eval_api.client import Client as ApiClient

# One attempt of a request: a call of a generated endpoint function.
Send = Callable[[], Response[Any]]

T = TypeVar("T")

sleep = time.sleep


def run_sync(function: Callable[[], T]) -> T:
    """Run blocking work (reading files) right here: a sync client blocks anyway."""
    return function()


class SyncIO:
    """Sends through the bounded sender, and closes the connections of a client that owns
    them when it is collected unclosed."""

    _owns_http_client: bool
    _http: httpx.Client
    _max_response_bytes: int
    _api: ApiClient

    def _attach_http(self, http: httpx.Client) -> None:
        """Send through ``http``: wrapped in the bounded sender, as the async twin does.

        The generated endpoint functions call only ``.request()``, on the bounded sender
        around ``http``: it reads the body under the size cap and ends the whole request
        within its time budget. This is the one place it is installed.
        """
        self._http = http
        sender = BoundedSender(http, self._max_response_bytes, owned=self._owns_http_client)
        self._api.set_httpx_client(cast(httpx.Client, sender))

    def _follow_loop(self) -> None:
        """Nothing to follow: a sync client uses no event loop (the async twin does)."""

    def __del__(self) -> None:
        try:
            if self._owns_http_client and not self._http.is_closed:
                self._http.close()
        except Exception:  # __init__ failed half-way, or interpreter shutdown
            pass
