"""Issue 20, "duplicates and lost work", item 1: the server accepted a job, then the ledger
could not record its answer (locked by another process, or a full disk).

The job exists: the error says so (its id and server, never "try again", which made a second
job), the run keeps the answer and records it at its next poll, and a run reopened on the
ledger finds it on the server. The failures are made at that exact moment: a second
connection holds the ledger's write lock, or the ledger's write raises SQLite's "disk is
full" once.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lmms_eval_client import JobCompleted, LedgerBusyError, LedgerError, LedgerFullError
from lmms_eval_client._runs.ledger_schema import ledger_error
from lmms_eval_client._runs.postgres.store import _LOCK_CLASS
from lmms_eval_client._runs.sqlite_store import SqliteStore
from lmms_eval_client.testing import LocalServer

from ..servers import loopback_http
from ._support import QWEN, server_jobs
from .conftest import MakeRunner

LONG = {**QWEN, "sim_duration": 600}  # stays running for the whole test


@contextmanager
def holding_the_lock(ledger: Any) -> Iterator[None]:
    """Another connection holds the ledger's write lock meanwhile (SQLite: its write
    transaction; PostgreSQL: the run's advisory lock)."""
    store = ledger.store
    if isinstance(store, SqliteStore):
        holder = sqlite3.connect(ledger.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with psycopg.connect(store._url.conninfo, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (_LOCK_CLASS, store._lock_key))
        yield


def fail_answers(ledger: Any, how: str, times: int = 1) -> list[str]:
    """Make the ledger's next ``times`` writes of a server's answer fail: ``busy`` (another
    connection holds the write lock while it is tried) or ``full`` (SQLite's disk-full
    error, as the ledger reads it). Returns the list the failures are noted in."""
    real = ledger.record_answer
    failed: list[str] = []

    def record_answer(*args: Any, **kwargs: Any) -> Any:
        if len(failed) >= times:
            return real(*args, **kwargs)
        failed.append(how)
        if how == "full":
            full = sqlite3.OperationalError("database or disk is full")
            raise ledger_error(full, ledger.path, "recording the server's answer")
        with holding_the_lock(ledger):
            return real(*args, **kwargs)

    ledger.record_answer = record_answer
    return failed


ERRORS: dict[str, type[LedgerError]] = {"busy": LedgerBusyError, "full": LedgerFullError}


@pytest.mark.parametrize("how", ["busy", "full"])
async def test_the_error_names_the_job_and_the_next_poll_records_it(
    make_runner: MakeRunner, local_server: LocalServer, how: str
) -> None:
    runner = make_runner(local_server.url, busy_timeout=0.05)
    failed = fail_answers(runner.run._ledger, how)
    with pytest.raises(LedgerError) as info:
        await runner.submit("qwen2_vl", ["mme"], model_args=LONG, labels={"epoch": 1})
    assert failed == [how]
    (created,) = server_jobs(local_server.url)
    error = info.value
    assert type(error) is ERRORS[how]  # the same class, for code that catches it
    message = str(error)
    assert "try again" not in message and "do not submit it again" in message
    assert created["job_id"] in message and local_server.url in message
    assert error.job_id == created["job_id"] and error.server == local_server.url
    # Not settled by guessing (reconciliation): the answer kept in memory is recorded.
    await runner.ready()
    (job,) = await runner.jobs()
    assert job.job_id == created["job_id"] and job.state == "running"
    assert [o.event for o in await runner.history(job)][:2] == ["intent", "answer"]
    assert len(server_jobs(local_server.url)) == 1


def wait_until_one_completed(base_url: str) -> None:
    deadline = time.monotonic() + 30
    with loopback_http(base_url) as http:
        while http.get("/queue").json()["completed_jobs"] != 1:
            assert time.monotonic() < deadline, "the job did not complete"
            time.sleep(0.02)


async def test_a_job_that_finished_before_the_next_poll_is_not_lost(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    # The server lists no finished job: reconciliation could not have found this one (it
    # called it lost). The run knew its id all along.
    runner = make_runner(local_server.url)
    fail_answers(runner.run._ledger, "full")
    with pytest.raises(LedgerFullError) as info:
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"epoch": 1})
    wait_until_one_completed(local_server.url)
    (outcome,) = await runner.completed(timeout=30)
    assert isinstance(outcome, JobCompleted), outcome
    assert outcome.job_id == info.value.job_id and outcome.labels == {"epoch": 1}


@pytest.mark.parametrize("reopened_by", ["another process", "the same process"])
async def test_a_run_closed_before_it_could_record_the_answer_leaves_it_to_the_next(
    make_runner: MakeRunner,
    local_server: LocalServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    reopened_by: str,
) -> None:
    ledger = tmp_path / "run.sqlite"
    runner = make_runner(local_server.url, ledger)
    fail_answers(runner.run._ledger, "full", times=2)  # the submit's write and close()'s
    with pytest.raises(LedgerFullError) as info:
        await runner.submit("qwen2_vl", ["mme"], model_args=LONG, labels={"epoch": 1})
    (created,) = server_jobs(local_server.url)
    job_id = created["job_id"]
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        await runner.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert job_id in warnings[0] and "reconcile" in warnings[0]
    assert info.value.job_id == job_id
    # The ledger reopened: the intent is settled from the server, the same job adopted,
    # nothing sent again. Another process: its own owner (orphan_after=0 stands for its
    # age). The same process (a run per checkpoint, `with EvalRun(...)` in a loop), with
    # orphan_after as it is: the closed run's intent is no live submitter's, although its
    # process lives (before: taken for one, "submitting" until 600 s had passed).
    options = {"orphan_after": 0} if reopened_by == "another process" else {}
    again = make_runner(local_server.url, ledger, **options)
    await again.ready()
    (job,) = await again.jobs()
    assert job.job_id == job_id and job.state == "running"
    assert len(server_jobs(local_server.url)) == 1


def test_the_ledger_errors_carry_the_job_through_pickle() -> None:
    error = LedgerFullError("full", path="/x/run.sqlite", job_id="j-1", server="http://gpu-1")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.job_id, clone.server, clone.path) == ("j-1", "http://gpu-1", "/x/run.sqlite")
    assert LedgerError("x", path="/p").job_id is None


async def test_an_answer_a_poll_recorded_while_close_failed_to_is_not_a_raw_error(
    make_runner: MakeRunner, local_server: LocalServer, tmp_path: Path
) -> None:
    # A reviewer's try: close() retries a kept answer; while its write fails, a poll beside
    # (another thread, another task) records it and drops it from the kept ones: close's
    # `del` raised a raw KeyError.
    runner = make_runner(local_server.url, tmp_path / "run.sqlite")
    poller = runner.run._poller
    fail_answers(runner.run._ledger, "full", times=1)  # the submit's write
    with pytest.raises(LedgerFullError):
        await runner.submit("qwen2_vl", ["mme"], model_args=LONG, labels={"epoch": 1})
    (seq,) = list(poller._unrecorded)
    real = runner.run._ledger.record_answer

    def written_beside_then_failed(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # the poll beside wrote it...
        poller._unrecorded.pop(seq, None)  # ... and let it go
        full = sqlite3.OperationalError("database or disk is full")
        raise ledger_error(full, runner.run._ledger.path, "recording the server's answer")

    runner.run._ledger.record_answer = written_beside_then_failed
    await runner.close()  # not a KeyError
    assert poller._unrecorded == {}
