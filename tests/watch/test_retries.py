"""A run's retry policy under a watcher: the new attempt of a lost checkpoint is told as a
submission (``on_submitted``), once, and a watcher made later does not tell it again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lmms_eval_client import EvalRun, RetryOnFailure, TrackedJob
from lmms_eval_client._watch.watcher import CheckpointWatcher
from lmms_eval_client.testing import LocalServer

from .conftest import write_checkpoint
from .test_watcher import LONG

MakeRun = Callable[..., EvalRun]


def watched(
    make_run: MakeRun, server: LocalServer, tmp_path: Path
) -> tuple[EvalRun, CheckpointWatcher]:
    """A run that resubmits lost jobs once, and a watcher of a folder with one checkpoint
    (its job runs until the server stops)."""
    write_checkpoint(tmp_path / "out", 1)
    run = make_run(server.url, retry=RetryOnFailure(lost=True, max_attempts=2))
    return run, CheckpointWatcher(run, tmp_path / "out", submit=LONG)


def test_a_lost_checkpoints_new_attempt_is_told_as_a_submission_once(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # Before: the retry was made in silence (``watch --retry-lost`` printed nothing of it).
    run, watcher = watched(make_run, local_server, tmp_path)
    told: list[TrackedJob] = []
    watcher.run(timeout=0, on_submitted=told.append)
    (first,) = told
    run._ledger.record_end(first.seq, "lost", "the server restarted", "lost")
    watcher.run(timeout=0, on_submitted=told.append)  # polled: lost, resubmitted, told
    assert [(job.key, job.attempt, job.retry_of) for job in told] == [
        ("checkpoint-1", 1, None),
        ("checkpoint-1", 2, first.seq),
    ]
    assert told[1].pending and told[1].job_id is not None
    watcher.run(timeout=0, on_submitted=told.append)
    again = CheckpointWatcher(run, watcher.directory, submit=LONG)  # restarted: told before
    again.run(timeout=0, on_submitted=told.append)
    assert len(told) == 2
    assert [job.seq for job in run.jobs()] == [first.seq, told[1].seq]


def test_a_pass_told_to_no_one_leaves_the_new_attempt_for_the_next_that_is(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    run, watcher = watched(make_run, local_server, tmp_path)
    (first,) = watcher.scan()
    run._ledger.record_end(first.seq, "lost", "the server restarted", "lost")
    run.ready()  # the retry is made here, outside the watcher
    assert watcher.scan() == []  # (scan returns what it submitted itself)
    told: list[TrackedJob] = []
    watcher.run(timeout=0, on_submitted=told.append)
    assert [(job.key, job.attempt) for job in told] == [("checkpoint-1", 2)]
