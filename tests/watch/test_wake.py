"""CheckpointWatcher's ``wake``: a change in the folder ends the wait at once (watchfiles),
long before a 60 s poll interval; ``"poll"`` waits the interval; a network file system
makes ``"auto"`` poll; without watchfiles, ``"auto"`` polls and ``"events"`` is refused."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalRun, InvalidArgumentError
from lmms_eval_client._runs.outcomes import TrackedJob
from lmms_eval_client._watch import wake as wake_module
from lmms_eval_client._watch.wake import EventWaker, concerns, roots
from lmms_eval_client._watch.watcher import CheckpointWatcher
from lmms_eval_client.testing import LocalServer

from .conftest import SUBMIT, write_checkpoint

MakeRun = Callable[..., EvalRun]
LONG_POLL = 60.0  # far longer than any wait below: only a wake-up submits in time
PROMPTLY = 10.0


class Watching:
    """``watcher.run(until=stop)`` in a thread; ``submitted[key]`` is set on submission,
    ``stopped_before[key]`` says whether ``stop`` was already set then."""

    def __init__(self, watcher: CheckpointWatcher, keys: list[str]) -> None:
        self.stop = threading.Event()
        self.submitted = {key: threading.Event() for key in keys}
        self.stopped_before: dict[str, bool] = {}
        self.thread = threading.Thread(
            target=watcher.run, args=(self.stop,), kwargs={"on_submitted": self._submitted}
        )

    def _submitted(self, job: TrackedJob) -> None:
        assert job.key is not None
        self.stopped_before[job.key] = self.stop.is_set()
        self.submitted[job.key].set()

    def end(self) -> None:
        self.stop.set()
        self.thread.join(PROMPTLY)
        assert not self.thread.is_alive(), "the watcher did not stop when told to"


@pytest.fixture
def watching() -> Iterator[Callable[[CheckpointWatcher], Watching]]:
    started: list[Watching] = []

    def start(watcher: CheckpointWatcher) -> Watching:
        watching = Watching(watcher, ["checkpoint-1", "checkpoint-2"])
        started.append(watching)
        watching.thread.start()
        return watching

    yield start
    for watching in started:
        watching.end()


@pytest.mark.parametrize("wake", ["auto", "events"])
def test_a_checkpoint_written_during_a_long_wait_is_submitted_at_once(
    make_run: MakeRun,
    local_server: LocalServer,
    tmp_path: Path,
    watching: Callable[[CheckpointWatcher], Watching],
    wake: Any,
) -> None:
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=LONG_POLL, wake=wake)
    assert watcher.wake_mode == "events"  # tmp_path: a local file system
    watch = watching(watcher)
    assert watch.submitted["checkpoint-1"].wait(PROMPTLY)  # the first scan: listening since
    write_checkpoint(out, 2)  # while the watcher waits its 60 s
    assert watch.submitted["checkpoint-2"].wait(PROMPTLY), "no wake-up: waited for the poll"
    watch.end()  # an Event stops it at once too (no 60 s wait)
    assert watch.stopped_before == {"checkpoint-1": False, "checkpoint-2": False}
    assert [job.key for job in run.jobs()] == ["checkpoint-1", "checkpoint-2"]


def test_a_name_that_is_no_utf8_does_not_end_the_events(
    make_run: MakeRun,
    local_server: LocalServer,
    tmp_path: Path,
    watching: Callable[[CheckpointWatcher], Watching],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An adversarial try: watchfiles cannot decode such a name, and its notifier fails from
    # then on: "change events stopped; polling only from now on" (28 s, not 0.1 s, later).
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=LONG_POLL, wake="events")
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        watch = watching(watcher)
        assert watch.submitted["checkpoint-1"].wait(PROMPTLY)
        os.mkdir(bytes(out) + b"/checkpoint-x\xff")  # no UTF-8: not a checkpoint either
        write_checkpoint(out, 2)
        assert watch.submitted["checkpoint-2"].wait(PROMPTLY), "no wake-up: waited for the poll"
    assert "polling only" not in caplog.text


def test_a_folder_deleted_and_made_again_is_listened_to_again(
    make_run: MakeRun,
    local_server: LocalServer,
    tmp_path: Path,
    watching: Callable[[CheckpointWatcher], Watching],
) -> None:
    # An adversarial try: the notifier's watch went with the old folder, and the events
    # stopped without a word: a checkpoint of the new folder waited for the poll.
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=LONG_POLL, wake="events")
    scans = threading.Semaphore(0)
    scan = watcher._scan

    def counted(*args: Any) -> Any:
        try:
            return scan(*args)
        finally:
            scans.release()

    watcher._scan = counted  # type: ignore[method-assign]
    watch = watching(watcher)
    assert watch.submitted["checkpoint-1"].wait(PROMPTLY)
    assert scans.acquire(timeout=PROMPTLY)  # that first scan is over
    shutil.rmtree(out)
    out.mkdir()
    assert scans.acquire(timeout=PROMPTLY)  # woken by the deletion: an empty folder scanned
    write_checkpoint(out, 2)
    assert watch.submitted["checkpoint-2"].wait(PROMPTLY), "no wake-up: waited for the poll"


@pytest.mark.slow
def test_poll_waits_its_interval_whatever_changes(
    make_run: MakeRun,
    local_server: LocalServer,
    tmp_path: Path,
    watching: Callable[[CheckpointWatcher], Watching],
) -> None:
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=LONG_POLL, wake="poll")
    assert watcher.wake_mode == "poll"
    watch = watching(watcher)
    assert watch.submitted["checkpoint-1"].wait(PROMPTLY)
    write_checkpoint(out, 2)
    # A wake-up submits in about 0.1 s (the test above); polling waits its 60 s.
    assert not watch.submitted["checkpoint-2"].wait(1.0)
    watch.end()  # stopping ends the wait, and no pass begins after it (finish() is next)
    assert watch.stopped_before == {"checkpoint-1": False}


def test_auto_polls_on_a_network_filesystem(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=LONG_POLL)
    assert watcher.wake_mode == "events"
    asked: list[str] = []

    def on_nfs(path: str) -> str:
        asked.append(path)
        return "nfs"

    def no_events(*args: object) -> None:
        raise AssertionError("change events used on a network file system")

    monkeypatch.setattr(wake_module, "filesystem_type", on_nfs)
    monkeypatch.setattr(wake_module, "EventWaker", no_events)
    assert watcher.wake_mode == "poll"
    # one pass, then stop (a function is asked after each): its waker is built (polling)
    assert [job.key for job in watcher.run(until=lambda: True)] == ["checkpoint-1"]
    assert asked and all(Path(path).parent == out for path in asked)  # inside it: a mount
    forced = CheckpointWatcher(run, out, submit=SUBMIT, wake="events")
    assert forced.wake_mode == "events"  # asked for: events, polling as the backstop


def test_without_watchfiles_auto_polls_and_events_is_refused(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(local_server.url)
    monkeypatch.setattr(wake_module, "_load_rust_notify", lambda: None)
    assert CheckpointWatcher(run, tmp_path, submit=SUBMIT).wake_mode == "poll"
    with pytest.raises(InvalidArgumentError, match=r"pip install 'lmms-eval-client\[watch\]'"):
        CheckpointWatcher(run, tmp_path, submit=SUBMIT, wake="events")
    with pytest.raises(InvalidArgumentError, match="wake must be one of auto, events, poll"):
        CheckpointWatcher(run, tmp_path, submit=SUBMIT, wake="inotify")  # type: ignore[arg-type]


def test_only_changes_in_checkpoint_entries_wake(tmp_path: Path) -> None:
    folders = roots(tmp_path / "out")
    root = str(tmp_path / "out")
    assert concerns(folders, "checkpoint-*", f"{root}/checkpoint-5/trainer_state.json")
    assert concerns(folders, "checkpoint-*", f"{root}/checkpoint-5")  # created, renamed in
    assert not concerns(folders, "checkpoint-*", f"{root}/runs/events.out.tfevents")
    assert not concerns(folders, "checkpoint-*", f"{root}/tmp-checkpoint-5/model.safetensors")
    assert not concerns(folders, "checkpoint-*", root)
    assert not concerns(folders, "checkpoint-*", str(tmp_path / "evals.sqlite-wal"))


class BrokenNotify:
    """A RustNotify whose OS watch fails (the folder went away, a watch limit)."""

    def __init__(self) -> None:
        self.closed = False

    def watch(self, *args: object) -> object:
        raise RuntimeError("inotify: no space left on device")

    def close(self) -> None:
        self.closed = True


def test_events_failing_fall_back_to_polling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    until = threading.Event()
    notify = BrokenNotify()
    with caplog.at_level(logging.WARNING), EventWaker(notify, tmp_path, "*", until) as waker:
        waker._thread.join(PROMPTLY)  # the listener gave up
        until.set()
        waker.wait(LONG_POLL)  # a poll's wait (on ``until``): returns as it is set
    assert notify.closed
    assert "polling only from now on" in caplog.text
    assert "no space left on device" in caplog.text
