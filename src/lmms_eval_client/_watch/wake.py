"""How a CheckpointWatcher waits between scans: on change events, or for its poll interval.

Polling stays the contract: every wait ends after ``poll_interval`` at the latest, so nothing
depends on an event being delivered. Where events work (a local file system, ``watchfiles``
installed: ``pip install 'lmms-eval-client[watch]'``), a change anywhere in the watched
folder ends the wait early and the next scan follows at once; the scan still decides
(readiness, keys), an event only says "look now". Network file systems (NFS, SMB, Lustre,
FUSE, ...) deliver no events for writes made by other hosts: there ``"auto"`` polls.

The events come from watchfiles' ``RustNotify`` (the ``notify`` crate: inotify, FSEvents,
ReadDirectoryChangesW), created before the first scan, so a change made after that scan
cannot be missed, and read by one daemon thread per ``run``/``finish`` call. Only changes
inside entries matching the watcher's ``pattern`` wake it: a ledger, logs or TensorBoard
files written beside the checkpoints do not cost a scan (and a poll of the server) each.
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from .._closing import Closing
from .._exceptions import InvalidArgumentError
from .._log import logger
from .._runs.filesystems import filesystem_type

Wake = Literal["auto", "events", "poll"]
"""How the watcher waits between scans: ``"auto"`` (events on a local file system when
watchfiles is installed, else polling), ``"events"`` (events wherever the OS gives them,
polling as the backstop), ``"poll"`` (polling only)."""

Until = threading.Event | Callable[[], bool] | None
"""What ends ``run``: an Event set elsewhere, a function asked after each scan, or None."""

WAKES: tuple[Wake, ...] = ("auto", "events", "poll")
INSTALL_HINT = "pip install 'lmms-eval-client[watch]'"

# How RustNotify groups changes: a batch is handed over once nothing changed for STEP_MS
# (or after DEBOUNCE_MS of steady writing), so a checkpoint's many files cost a few scans.
STEP_MS = 50
DEBOUNCE_MS = 1_000


def until_set(until: Until) -> bool:
    """``until`` is an Event, set."""
    return isinstance(until, threading.Event) and until.is_set()


def stopped(until: Until) -> bool:
    """``until`` says stop: an Event set, or a function returning True (asked now)."""
    return until_set(until) or (callable(until) and bool(until()))


class _Stoppable(Protocol):
    def is_set(self) -> bool: ...


def _load_rust_notify() -> Any | None:
    """watchfiles' RustNotify class, or None when watchfiles is not installed."""
    try:
        from watchfiles._rust_notify import RustNotify
    except ImportError:
        return None
    return RustNotify


def roots(directory: Path) -> tuple[str, ...]:
    """The spellings of ``directory`` a change event can carry: absolute, and resolved
    (FSEvents reports /private/tmp for /tmp)."""
    return tuple(dict.fromkeys([os.path.abspath(directory), os.path.realpath(directory)]))


def concerns(folders: tuple[str, ...], pattern: str, changed: str) -> bool:
    """Whether ``changed`` is in (or is) an entry matching ``pattern`` of the watched folder
    (spelled as in ``folders``): a change that can make a checkpoint appear or complete."""
    for folder in folders:
        relative = os.path.relpath(changed, folder) if os.path.isabs(changed) else changed
        first = Path(relative).parts[0] if relative not in ("", ".") else ".."
        if first != ".." and fnmatch.fnmatchcase(first, pattern):
            return True
    return False


def check_wake(wake: object) -> Wake:
    """``wake``, checked: one of WAKES, and watchfiles installed for ``"events"``."""
    if wake not in WAKES:
        raise InvalidArgumentError(f"wake must be one of {', '.join(WAKES)}; got {wake!r}")
    if wake == "events" and _load_rust_notify() is None:
        raise InvalidArgumentError(
            f'wake="events" needs the watchfiles package: {INSTALL_HINT} '
            '(or wake="poll" to poll only)'
        )
    return wake


def resolve_wake(wake: Wake, directory: Path) -> Literal["events", "poll"]:
    """What ``wake`` means for ``directory`` now: ``"events"`` or ``"poll"``."""
    if wake == "poll":
        return "poll"
    if _load_rust_notify() is None:
        return "poll"  # "events" was checked when given; "auto" falls back
    # filesystem_type asks about the folder holding a path: a child's, so a folder that is
    # itself a mount point (/mnt/nfs) is judged by its own file system, not its parent's.
    if wake == "auto" and filesystem_type(os.path.join(directory, "_")) is not None:
        return "poll"  # a network file system: other hosts' writes raise no event here
    return "events"


class Waker(Closing):
    """Waits between scans: ``wait(seconds)``; a context manager (closing stops its thread)."""

    def __init__(self, until: threading.Event | None, sleep: Callable[[float], None] | None):
        self._until = until
        self._sleep = sleep

    def wait(self, seconds: float) -> None:
        """Wait ``seconds``, or less when ``until`` (an Event) is set."""
        if self._sleep is not None:
            self._sleep(seconds)
        elif self._until is not None:
            self._until.wait(seconds)
        else:
            time.sleep(seconds)

    def close(self) -> None:
        """Stop waiting for events (polling: nothing to stop)."""


# watchfiles' error for a path that is no UTF-8; its notifier fails on every call after it
_UNDECODABLE = "Unable to decode path"
MAX_RENEWALS = 100  # notifiers made again in one wait loop: past it, polling only


class _StopView:
    """What RustNotify asks on each step: closed, or the run's ``until`` Event set."""

    def __init__(self, closed: threading.Event, until: threading.Event | None) -> None:
        self._closed = closed
        self._until = until

    def is_set(self) -> bool:
        return self._closed.is_set() or (self._until is not None and self._until.is_set())


class EventWaker(Waker):
    """Ends a wait early when something changed in the folder (or ``until`` was set)."""

    def __init__(
        self,
        notify: Any,
        directory: Path,
        pattern: str,
        until: threading.Event | None,
        renew: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(until, None)
        self._notify = notify
        self._renew = renew
        self._directory = directory
        self._pattern = pattern
        self._roots = roots(directory)
        self._path = os.path.abspath(directory)  # as the notifier names it
        self._changed = threading.Event()
        self._closed = threading.Event()
        self._failed = False
        self._thread = threading.Thread(
            target=self._listen, name=f"watch-events:{directory.name}", daemon=True
        )
        self._thread.start()

    def _listen(self) -> None:
        stop: _Stoppable = _StopView(self._closed, self._until)
        renewals = 0
        try:
            while not stop.is_set():
                # timeout 0: wait until a change, or until ``stop`` is set (asked each step)
                try:
                    answer = self._notify.watch(DEBOUNCE_MS, STEP_MS, 0, stop)
                except Exception as exc:
                    # watchfiles' notifier fails for good on a name that is no UTF-8 (a
                    # stray folder, not a checkpoint): a new one goes on listening
                    undecodable = _UNDECODABLE in str(exc)
                    if not undecodable or self._renew is None or renewals >= MAX_RENEWALS:
                        raise
                    renewals += 1
                    self._notify.close()
                    self._notify = self._renew()
                    self._changed.set()  # a change came with it: scan
                    continue
                if not isinstance(answer, set):
                    continue
                if self._renew is not None and any(path == self._path for _, path in answer):
                    # The folder itself deleted (made again, maybe): the OS's watch went
                    # with it. A new notifier, or (the folder gone) the failure below.
                    self._notify.close()
                    self._notify = self._renew()
                    self._changed.set()
                elif any(concerns(self._roots, self._pattern, path) for _, path in answer):
                    self._changed.set()
        except Exception as exc:  # the OS stopped reporting (folder gone, watch limit)
            self._failed = True
            logger.warning(
                "Watcher of %s: change events stopped (%s); polling only from now on",
                self._directory,
                exc,
            )
        finally:
            self._changed.set()  # a waiter sees the stop (or the failure) at once

    def wait(self, seconds: float) -> None:
        """Wait until something changed, ``until`` was set, or ``seconds`` passed."""
        if self._failed:
            super().wait(seconds)
            return
        self._changed.wait(seconds)
        self._changed.clear()  # before the scan: a change during it wakes the next wait

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self._notify.close()


def start_waker(
    wake: Wake,
    directory: Path,
    pattern: str,
    until: Until,
    sleep: Callable[[float], None] | None,
) -> Waker:
    """The waker of one ``run``/``finish`` call; events only where ``wake`` resolves to them
    (and never under an injected ``sleep``: fake time)."""
    event = until if isinstance(until, threading.Event) else None
    if sleep is not None or resolve_wake(wake, directory) == "poll":
        return Waker(event, sleep)
    rust_notify = _load_rust_notify()
    if rust_notify is None:  # resolve_wake said events: only if it was importable
        return Waker(event, sleep)

    def listen() -> Any:
        # paths, debug, force_polling, poll_delay_ms, recursive, ignore_permission_denied
        return rust_notify([os.path.abspath(directory)], False, False, 300, True, True)

    try:
        notify = listen()
    except FileNotFoundError:
        return Waker(event, sleep)  # the scan reports the missing folder
    except Exception as exc:  # e.g. inotify's watch limit reached
        logger.warning(
            "Watcher of %s: no change events (%s); polling every interval instead",
            directory,
            exc,
        )
        return Waker(event, sleep)
    return EventWaker(notify, directory, pattern, event, renew=listen)
