"""A ledger that fails part of a pass (a review's findings). A lock another process holds,
failing the writes and letting the reads through (repro_flap.py): a pass of a watcher (its
collect and its scan) or of the trainer callback (its submissions, its harvest, its end of
training's read) is one verdict on the ledger, so the outage is said once when it goes and
once when it is back, not twice a pass, and a wait that ends meanwhile says the ledger out.
A claim of outcomes meeting a lock once (repro_finish_drops.py): a pass counts as done only
if every use of the ledger in it went through. The lock is real (SQLite, a short
busy_timeout) or injected (the claim); time is fake."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun, JobOutcome, LedgerBusyError
from lmms_eval_client._runs._sync import delivery
from lmms_eval_client._watch.watcher import CheckpointWatcher
from lmms_eval_client.testing import LocalServer

from .conftest import SUBMIT, write_checkpoint
from .test_callback_outage import settled, state

MakeRun = Callable[..., EvalRun]
GONE = "the run's ledger cannot be used for now"
BACK = "the run's ledger answers again"


def claim_busy_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first claim of outcomes meets a lock another process holds (nothing recorded);
    the calls made, by their number."""
    real, calls = delivery.claim, []

    def claim(*args: Any, **kwargs: Any) -> list[int]:
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            raise LedgerBusyError("The run ledger is locked by another process (injected)")
        return real(*args, **kwargs)

    monkeypatch.setattr(delivery, "claim", claim)
    return calls


def fake_time(watcher: CheckpointWatcher) -> list[float]:
    """The watcher's waits pass at once, on a clock of their own; the waits it made."""
    now, sleeps = [0.0], []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    watcher._sleep = sleep  # type: ignore[method-assign]
    watcher._clock = lambda: now[0]  # type: ignore[method-assign]
    return sleeps


def completed_on_the_server(server: LocalServer, job_id: str | None) -> None:
    """Once the server has run the job: the run's next poll records it (a write)."""
    assert job_id is not None
    with EvalClient(server.url) as client:
        client.wait_for_job(job_id, timeout=60, verbose=False)


@contextmanager
def writes_locked(ledger: Path) -> Iterator[None]:
    """Another process holds the SQLite ledger's write lock: writes wait busy_timeout and
    fail (LedgerBusyError), reads go through (WAL)."""
    other = sqlite3.connect(ledger, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def watching_with_writes_locked(
    make_run: MakeRun, server: LocalServer, tmp_path: Path
) -> Iterator[tuple[CheckpointWatcher, list[float]]]:
    """A watcher whose one job the server completed (not polled yet), its ledger's writes
    locked by another process, on fake time; the watcher and its waits."""
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    ledger = tmp_path / "evals.sqlite"
    run = make_run(server.url, ledger, busy_timeout=0.05)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=0.25, wake="poll")
    (job,) = watcher.scan()
    completed_on_the_server(server, job.job_id)
    sleeps = fake_time(watcher)
    with writes_locked(ledger):
        yield watcher, sleeps


def test_a_watcher_says_a_lock_on_the_ledgers_writes_once(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # Each pass's collect failed (its poll's writes) and its scan went through (reads): the
    # outage was said gone and back at every pass.
    with (
        watching_with_writes_locked(make_run, local_server, tmp_path) as (watcher, sleeps),
        caplog.at_level(logging.WARNING, logger="lmms_eval_client"),
    ):
        watcher.run(lambda: len(sleeps) >= 3)
    assert (caplog.text.count(GONE), caplog.text.count(BACK)) == (1, 0)


def test_a_watchers_finish_timing_out_under_a_lock_on_the_ledgers_writes_raises_it(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # The last read of each pass cleared the error: finish(timeout) returned the job as last
    # read (pending, which nobody could check) instead of raising the ledger's error as
    # documented; once the lock is gone, the next finish takes the outcome (said back once).
    with (
        watching_with_writes_locked(make_run, local_server, tmp_path) as (watcher, sleeps),
        caplog.at_level(logging.WARNING, logger="lmms_eval_client"),
    ):
        with pytest.raises(LedgerBusyError):
            watcher.finish(timeout=0.75)
        assert sleeps == [0.25, 0.25, 0.25]
        assert (caplog.text.count(GONE), caplog.text.count(BACK)) == (1, 0)
    outcomes: list[JobOutcome] = []
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        assert watcher.finish(timeout=60, on_outcome=outcomes.append) == []
    assert [outcome.kind for outcome in outcomes] == ["completed"]
    assert (caplog.text.count(GONE), caplog.text.count(BACK)) == (1, 1)


def test_the_end_of_training_says_a_lock_on_the_ledgers_writes_once(
    callback_module: Any, make_run: MakeRun, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # As the watcher: said gone and back at every pause of the wait, and its end said one
    # evaluation still pending (as last read) rather than the ledger still out.
    args = SimpleNamespace(output_dir=str(tmp_path / "out"))
    ledger = tmp_path / "evals.sqlite"
    run = make_run(local_server.url, ledger, busy_timeout=0.05)
    callback = callback_module.EvalCallback(run, SUBMIT, wait_at_end=0.07)
    callback.on_save(args, state(5), None)
    settled(callback)
    (job,) = callback.submitted
    completed_on_the_server(local_server, job.job_id)
    now, pauses = [0.0], []

    def pause(seconds: float) -> None:  # fake time
        pauses.append(seconds)
        now[0] += seconds

    callback._pause, callback._clock = pause, lambda: now[0]
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"), writes_locked(ledger):
        callback.on_train_end(args, state(5), None)
    assert pauses == [0.02] * 4  # tried again at each poll until wait_at_end
    assert (caplog.text.count(GONE), caplog.text.count(BACK)) == (1, 0)
    assert "passed at the end of training: the run's ledger is still out" in caplog.text


def test_a_lock_on_the_ledgers_writes_at_the_trainers_saves_and_logs_is_said_once(
    callback_module: Any, make_run: MakeRun, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # A submission that meets the lock is a use of the ledger that failed: a poll whose
    # harvest went through is not the ledger back while the checkpoint cannot be recorded.
    args = SimpleNamespace(output_dir=str(tmp_path / "out"))
    ledger = tmp_path / "evals.sqlite"
    run = make_run(local_server.url, ledger, busy_timeout=0.05)
    callback = callback_module.EvalCallback(run, SUBMIT)

    def log(step: int) -> None:  # a log that polls (poll_interval passed), waited for
        callback._polled_at = float("-inf")
        callback.on_log(args, state(step), None, logs={})
        settled(callback)

    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        with writes_locked(ledger):
            callback.on_save(args, state(2), None)
            settled(callback)
            for step in (3, 4, 5):
                log(step)
        assert callback.submitted == []
        assert caplog.text.count("could not submit checkpoint-2") == 1  # (before: each try)
        assert (caplog.text.count(GONE), caplog.text.count(BACK)) == (1, 0)
        log(6)
    assert [job.key for job in callback.submitted] == ["checkpoint-2"]
    assert (caplog.text.count(GONE), caplog.text.count(BACK)) == (1, 1)


def test_a_watchers_finish_waits_for_an_outcome_whose_claim_met_a_lock(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # The pass's collect recorded the job completed, its claim failed (ridden out), and the
    # same pass's read found nothing pending: finish returned [] ("all done") and
    # on_outcome never got the outcome, which the ledger still held unacknowledged.
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=0.25, wake="poll")
    (job,) = watcher.scan()
    run.wait(timeout=60)  # completed, in the ledger too; not handed out yet
    calls = claim_busy_once(monkeypatch)
    sleeps = fake_time(watcher)
    outcomes: list[JobOutcome] = []
    assert watcher.finish(timeout=60, on_outcome=outcomes.append) == []
    assert [(outcome.job.seq, outcome.kind) for outcome in outcomes] == [(job.seq, "completed")]
    assert len(calls) == 2 and sleeps == [0.25]  # the next pass took it
    assert run.receive() == []  # acknowledged: nothing left to hand out


def test_the_end_of_training_waits_for_an_outcome_whose_claim_met_a_lock(
    callback_module: Any, make_run: MakeRun, local_server: LocalServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # As the watcher's finish: the wait broke as all done, and the training ended without
    # the metrics of its last checkpoint.
    args = SimpleNamespace(output_dir=str(tmp_path / "out"))
    run = make_run(local_server.url)
    callback = callback_module.EvalCallback(run, SUBMIT, wait_at_end=60)
    callback.on_save(args, state(5), None)
    settled(callback)
    run.wait(timeout=60)
    calls = claim_busy_once(monkeypatch)
    pauses: list[float] = []
    callback._pause = pauses.append
    end = state(5)
    callback.on_train_end(args, end, None)
    assert [values["eval/checkpoint_step"] for values in end.log_history] == [5.0]
    assert len(calls) == 2 and pauses == [0.02]
