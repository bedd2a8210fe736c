"""A daemon thread that runs calls in the order they were handed to it, off the caller's
thread: EvalCallback's hooks hand it their calls to the evaluation server and return at
once, so a server that never answers holds no training step (a request can take the
client's timeout times its tries: minutes)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from .._log import logger


class Background:
    """Calls run one at a time, in order, in a daemon thread: started by a call, ended
    once no call waits (never two at once; a daemon thread holds no process at exit).

    Example::

        background = Background("EvalCallback")
        background.hand(tick, once=True)  # returns at once
        background.done(timeout=10)  # True once every call handed so far has run
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._waiting: set[Callable[[], None]] = set()  # handed with once=True, not run yet
        self._thread: threading.Thread | None = None

    def hand(self, call: Callable[[], None], *, once: bool = False) -> None:
        """Run ``call`` after the calls handed before it; ``once``: not when the same call
        waits already (a tick asked for at every log runs once however long the wait)."""
        with self._lock:
            if once:
                if call in self._waiting:
                    return
                self._waiting.add(call)
            if self._thread is None:  # (ended under this lock: never two at once)
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
            self._calls.put(call)

    def done(self, timeout: float | None = None) -> bool:
        """Wait until every call handed so far has run: False after ``timeout`` seconds."""
        finished = threading.Event()
        self.hand(finished.set)
        return finished.wait(timeout)

    def _work(self) -> None:
        while True:
            call = self._calls.get()
            with self._lock:
                self._waiting.discard(call)
            try:
                call()
            except Exception:  # a bug must not end the thread: the later calls still run
                logger.exception("%s: a call in its background thread failed", self._name)
            del call  # (it holds its object: a callback, its run)
            with self._lock:  # idle: the thread ends (the next call starts another)
                if self._calls.empty():
                    self._thread = None
                    return
