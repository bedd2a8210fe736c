"""What only the sync pool does differently: asking its servers one after the other.

Its async twin, ``_async/_pool_io.py`` (also hand-written), asks them at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def gather(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls one after the other; their results, in order."""
    return [call() for call in calls]


def new_lock() -> threading.Lock:
    """A lock for one thread at a time."""
    return threading.Lock()
