"""What only the sync classes do differently, kept small: sleeping, no event loop to follow,
and closing a client that was never closed when it is collected (safe: no event loop).
Its async twin is ``_async/_io.py``; both are written by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import httpx

from lmms_eval_api.client import Client as ApiClient

from ..options import ClientTimeout
from ..transport import BoundedSender

if TYPE_CHECKING:  # the generated types load pydantic: only when a request is sent
    from lmms_eval_api.types import Response

# One attempt of a request: a call of a generated endpoint function, given the generated
# client of that attempt (see _api_for).
Send: TypeAlias = "Callable[[ApiClient], Response[Any]]"

T = TypeVar("T")

sleep = time.sleep


def run_sync(function: Callable[[], T]) -> T:
    """Run blocking work (reading files) right here: a sync client blocks anyway."""
    return function()


Lock: TypeAlias = threading.Lock  # what new_lock makes (see the async twin's)


def new_lock() -> Lock:
    """A lock for one thread at a time."""
    return threading.Lock()


def take(lock: Lock, *, wait: float | None) -> bool:
    """Take the lock, waiting for it up to ``wait`` seconds (None: as long as it takes; 0:
    only if it is free): True when taken (release it)."""
    if wait is not None and wait <= 0:
        return lock.acquire(blocking=False)
    return lock.acquire(timeout=-1 if wait is None else wait)


class SyncIO:
    """Sends through the bounded sender, and closes the connections of a client that owns
    them when it is collected unclosed."""

    _base_url: str
    _owns_http_client: bool
    _http: httpx.Client
    _max_response_bytes: int
    _sender: BoundedSender

    def _attach_http(self, http: httpx.Client) -> None:
        """Send through ``http``: wrapped in the bounded sender, as the async twin does.

        The generated endpoint functions send through the bounded sender around ``http``
        (an ``attempt()`` of it): it reads the body under the size cap and ends the whole
        request within its time budget. This is the one place it is installed.
        """
        self._http = http
        self._sender = BoundedSender(http, self._max_response_bytes, owned=self._owns_http_client)

    def _api_for(
        self, timeout: httpx.Timeout | ClientTimeout, time_left: float | None
    ) -> ApiClient:
        """The generated client one attempt of a call sends through, with its bounds."""
        api = ApiClient(base_url=self._base_url)
        return api.set_httpx_client(self._sender.attempt(timeout, time_left))

    def _follow_loop(self) -> None:
        """Nothing to follow: a sync client uses no event loop (the async twin does)."""

    def _close_connections(self) -> None:
        """Close the connections the client owns (its close())."""
        self._http.close()

    def __del__(self) -> None:
        try:
            if self._owns_http_client and not self._http.is_closed:
                self._http.close()
        except Exception:  # __init__ failed half-way, or interpreter shutdown
            pass
