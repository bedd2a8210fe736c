"""A PostgreSQL ledger restarting under what follows a run for hours: ``runs watch`` and a
checkpoint watcher ride it out, as they ride out a server down (said once when the ledger
goes, once when it is back), where both stopped at the first poll that could not reach
it (``runs watch`` exit 5, a watcher's thread raised ``LedgerConnectionError``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun, JobOutcome, LedgerConnectionError
from lmms_eval_client._watch.submission import CheckpointSubmission
from lmms_eval_client._watch.watcher import CheckpointWatcher
from lmms_eval_client.cli.run_view import Lines, watch_run
from lmms_eval_client.testing import LocalServer

from ..postgres import PostgresServer
from ..watch.conftest import write_checkpoint

SHORT = {"pretrained": "org/model", "sim_duration": 0.3}  # pending at the first look
WHAT = CheckpointSubmission(
    model="qwen2_vl", tasks=["mme"], model_args={**SHORT, "pretrained": "{checkpoint}"}
)
GONE = "the run's ledger cannot be used for now"
BACK = "the run's ledger answers again"


def restarting(server: PostgresServer) -> Callable[[float], None]:
    """A sleep that stops the database at its first call and starts it at its third: the
    look between fails; later calls sleep a little (the job runs meanwhile)."""
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            server.stop()
        elif len(calls) == 3:
            server.start()
        else:
            time.sleep(min(seconds, 0.05))

    return sleep


def test_runs_watch_rides_out_a_database_restart(
    postgres_server: PostgresServer,
    postgres_url: str,
    local_server: LocalServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with EvalClient(local_server.url) as client, EvalRun(client, postgres_url) as run:
        run.submit("qwen2_vl", ["mme"], SHORT)
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            jobs = watch_run(
                run, (local_server.url,), Lines(), poll_interval=0.02, timeout=None,
                sleep=restarting(postgres_server),
            )  # fmt: skip
        assert [job.state for job in jobs] == ["completed"]
        assert [job.harvested for job in run.jobs()] == [True]
    assert caplog.text.count(GONE) == 1 and caplog.text.count(BACK) == 1
    assert "***" in caplog.text and postgres_server.password not in caplog.text


def test_runs_watch_whose_timeout_passes_while_the_ledger_is_out_raises_its_error(
    postgres_server: PostgresServer, postgres_url: str, local_server: LocalServer
) -> None:
    with EvalClient(local_server.url) as client, EvalRun(client, postgres_url) as run:
        run.submit("qwen2_vl", ["mme"], SHORT)
        postgres_server.stop()
        try:
            with pytest.raises(LedgerConnectionError):
                watch_run(run, (local_server.url,), Lines(), poll_interval=0.02, timeout=0)
        finally:
            postgres_server.start()


@contextmanager
def watching(
    postgres_server: PostgresServer, postgres_url: str, local_server: LocalServer, tmp_path: Path
) -> Iterator[CheckpointWatcher]:
    """A watcher of one checkpoint over a PostgreSQL ledger restarted at its first pause."""
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    with EvalClient(local_server.url) as client, EvalRun(client, postgres_url) as run:
        watcher = CheckpointWatcher(run, out, submit=WHAT, poll_interval=0.02, wake="poll")
        watcher._sleep = restarting(postgres_server)  # type: ignore[method-assign]
        yield watcher


def test_a_watcher_rides_out_a_database_restart(
    postgres_server: PostgresServer,
    postgres_url: str,
    local_server: LocalServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes: list[JobOutcome] = []
    with (
        watching(postgres_server, postgres_url, local_server, tmp_path) as watcher,
        caplog.at_level(logging.WARNING, logger="lmms_eval_client"),
    ):
        (job,) = watcher.run(lambda: bool(outcomes), on_outcome=outcomes.append)
    assert [outcome.kind for outcome in outcomes] == ["completed"]
    assert outcomes[0].job.seq == job.seq
    assert caplog.text.count(GONE) == 1 and caplog.text.count(BACK) == 1


def test_a_watchers_finish_rides_out_a_database_restart(
    postgres_server: PostgresServer,
    postgres_url: str,
    local_server: LocalServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The review's finding: finish() (the end of a watch) said the ledger would be tried
    # again at each poll, then raised LedgerConnectionError from its scan's ledger read.
    outcomes: list[JobOutcome] = []
    with (
        watching(postgres_server, postgres_url, local_server, tmp_path) as watcher,
        caplog.at_level(logging.WARNING, logger="lmms_eval_client"),
    ):
        left = watcher.finish(timeout=60, on_outcome=outcomes.append)
    assert left == []
    assert [outcome.kind for outcome in outcomes] == ["completed"]
    assert caplog.text.count(GONE) == 1 and caplog.text.count(BACK) == 1


def test_a_watchers_finish_whose_timeout_passes_while_the_ledger_is_out_raises_its_error(
    postgres_server: PostgresServer, postgres_url: str, local_server: LocalServer, tmp_path: Path
) -> None:
    # As runs watch --timeout: ridden out until the timeout, then the ledger's error (not
    # the jobs as last known: that would say they are pending, which nobody could check).
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # fake time: the database stops at the first wait
        sleeps.append(seconds)
        if len(sleeps) == 1:
            postgres_server.stop()
        now[0] += seconds

    with EvalClient(local_server.url) as client, EvalRun(client, postgres_url) as run:
        watcher = CheckpointWatcher(run, out, submit=WHAT, poll_interval=0.25, wake="poll")
        watcher._sleep = sleep  # type: ignore[method-assign]
        watcher._clock = lambda: now[0]  # type: ignore[method-assign]
        try:
            with pytest.raises(LedgerConnectionError):
                watcher.finish(timeout=0.75)
        finally:
            postgres_server.start()
    assert sleeps == [0.25, 0.25, 0.25]  # tried again at each poll until the timeout
