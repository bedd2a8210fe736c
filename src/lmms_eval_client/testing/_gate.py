"""JobGate: hold the local server's jobs running until the test says so.

Tests that look at a queue need a job that stays ``running`` while they look; a job simulated
for "long enough" makes them depend on timing. A gate is an explicit event instead: every
job that starts waits at it, ``running``, until ``release()``; from then on no job waits.
Tests can also wait, without polling, until a job has reached the gate.

The gate is shared by the server's event loop (a :class:`LocalServer` thread, or the
test's own loop with :func:`asgi_client`) and the test, so it is thread-safe, and its
waits work from either side.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable


class JobGate:
    """Jobs wait at the gate, running, until ``release()``.

    Give it to the server (``LocalServerConfig(job_gate=gate)``); then::

        job = client.evaluate(...)
        gate.wait_until_held()            # the job is running, held at the gate
        ...                               # look at the queue: nothing moves
        gate.release()                    # it (and every later job) runs to its end

    Async code in the server's own event loop (``asgi_client``) uses
    ``await gate.until_held()`` instead of the blocking ``wait_until_held()``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._released = False
        self._held = 0  # jobs waiting at the gate now
        self._arrived = 0  # jobs that ever reached it
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def __repr__(self) -> str:
        state = "released" if self._released else f"holding {self._held}"
        return f"{type(self).__name__}({state}, {self._arrived} arrived)"

    @property
    def released(self) -> bool:
        """Whether ``release()`` was called."""
        return self._released

    @property
    def held(self) -> int:
        """How many jobs are waiting at the gate now."""
        return self._held

    @property
    def arrived(self) -> int:
        """How many jobs have reached the gate so far (held or let through)."""
        return self._arrived

    def release(self) -> None:
        """Let the held jobs, and every later one, go on (idempotent)."""
        with self._lock:
            self._released = True
            self._notify()

    def wait_until_held(self, count: int = 1, timeout: float | None = 10.0) -> None:
        """Block until ``count`` jobs have reached the gate since it was made.

        For a thread other than the server's event loop (a test next to a ``LocalServer``).

        Raises:
            TimeoutError: Fewer jobs arrived within ``timeout`` seconds.
            ValueError: ``count`` is not an int >= 0, or ``timeout`` not seconds.
        """
        seconds = _checked(count, timeout)
        deadline = None if seconds is None else time.monotonic() + seconds
        with self._changed:
            while self._arrived < count:
                if deadline is None:  # no limit
                    self._changed.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._late(count, timeout))
                self._changed.wait(remaining)

    async def until_held(self, count: int = 1, timeout: float | None = 10.0) -> None:
        """Wait (asynchronously) until ``count`` jobs have reached the gate.

        Raises:
            TimeoutError: Fewer jobs arrived within ``timeout`` seconds.
            ValueError: ``count`` is not an int >= 0, or ``timeout`` not seconds.
        """
        _checked(count, timeout)
        try:
            await asyncio.wait_for(self._until(lambda: self._arrived >= count), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(self._late(count, timeout)) from None

    async def pass_through(self) -> None:
        """Called by the server when a job starts: wait there until released."""
        with self._lock:
            self._arrived += 1
            self._held += 1
            self._notify()
        try:
            await self._until(lambda: self._released)
        finally:
            with self._lock:
                self._held -= 1
                self._notify()

    # -- internals -------------------------------------------------------------------

    def _late(self, count: int, timeout: float | None) -> str:
        return f"{self._arrived} of {count} job(s) reached the gate within {timeout:g} s"

    def _notify(self) -> None:
        """Wake every waiter (called with the lock held)."""
        self._changed.notify_all()
        for loop, event in self._waiters:
            # A loop closed since its waiter registered has nobody left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def _until(self, done: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                with self._lock:
                    if done():
                        return
                    event.clear()
                await event.wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)


def _checked(count: object, timeout: object) -> float | None:
    """``timeout`` (None: no limit), once both are checked (a NaN waited forever; inf, a
    huge int or a str raised OverflowError or TypeError)."""
    from ._config import check_duration  # (the config module imports this one)

    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be an int >= 0, got {count!r}")
    return None if timeout is None else check_duration("timeout", timeout)
