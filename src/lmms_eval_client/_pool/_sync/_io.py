"""What only the sync pool does differently: asking its servers at once, in threads.

Its async twin, ``_async/_io.py`` (also hand-written), asks them at once in tasks. At
once, not one after the other: a call's ``timeout=`` is one deadline for every request it
sends, and servers asked in turn behind a hung one would get none of it (nor would a
healthy one's answer be read).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def gather(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls at once, each in a thread; their results, in order (the first error
    is raised once every call has ended: none is left running)."""
    if len(calls) <= 1:  # (none: every server known down)
        return [call() for call in calls]
    with ThreadPoolExecutor(len(calls), thread_name_prefix="lmms-eval-pool") as threads:
        futures = [threads.submit(call) for call in calls]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]


def take(lock: threading.Lock, *, wait: bool) -> bool:
    """Take the lock, waiting for it if ``wait``, else only if it is free: True when
    taken (release it)."""
    return lock.acquire(blocking=wait)


def new_lock() -> threading.Lock:
    """A lock for one thread at a time."""
    return threading.Lock()
