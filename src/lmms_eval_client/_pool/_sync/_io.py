"""What only the sync pool does differently: asking its servers at once, in threads.

Its async twin, ``_async/_io.py`` (also hand-written), asks them at once in tasks. At
once, not one after the other: a call's ``timeout=`` is one deadline for every request it
sends, and servers asked in turn behind a hung one would get none of it (nor would a
healthy one's answer be read).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def gather(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls at once, each in a thread; their results, in order (the first error
    is raised once every call has ended: none is left running).

    Daemon threads, joined here: Ctrl+C (or SIGTERM, as the command line takes it) while
    they wait on servers ends the process then, not when their requests end (an
    executor's threads are joined at exit, for up to the client's timeout)."""
    if len(calls) <= 1:  # (none: every server known down)
        return [call() for call in calls]
    outcomes: list[tuple[bool, Any]] = [(False, None)] * len(calls)

    def run(index: int) -> None:
        try:
            outcomes[index] = (True, calls[index]())
        except BaseException as exc:  # raised by the caller's thread, below
            outcomes[index] = (False, exc)

    threads = [
        threading.Thread(target=run, args=(i,), name="lmms-eval-pool", daemon=True)
        for i in range(len(calls))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for done, value in outcomes:
        if not done:
            raise value
    return [value for _, value in outcomes]
