"""A run at scale (issue 22): a poll's work grows with the jobs that changed, not with the
jobs pending; the ledger keeps a submission's queue snapshot only while it is unanswered."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs import ledger as ledger_module
from lmms_eval_client._runs import ledger_reads
from lmms_eval_client._runs.ledger import Ledger

from ..support import MINIMAL_REQUESTS
from ._fake import BASE, FakeServer
from .conftest import MakeRunner

pytestmark = MINIMAL_REQUESTS


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


def request(n: int) -> Any:
    return build_evaluate_request(
        "qwen2_vl", ["mme"], {"n": n}, None, None, None, None, None, True, False, 1, None
    )


def snapshots(path: Path) -> dict[int, str | None]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT seq, snapshot FROM jobs ORDER BY seq").fetchall())
    finally:
        conn.close()


def pending_ledger(path: Path, server: FakeServer, jobs: int, first: int = 0) -> None:
    """A ledger of ``jobs`` answered jobs, all queued on ``server`` (as a run leaves it)."""
    ledger = Ledger(path)
    try:
        for n in range(first, first + jobs):
            body = request(n)
            job = ledger.record_intent(
                token=f"t{n}", labels={"n": n}, request=body, server=BASE, owner="o",
                snapshot=QueueSnapshot(tuple(server.jobs), 0, 0).to_json(),
            )  # fmt: skip
            job_id = server.create(body.to_dict())
            ledger.record_answer(job.seq, job_id, "queued", "answer", {"job_id": job_id})
    finally:
        ledger.close()


async def test_an_answer_clears_the_snapshot_and_an_unanswered_intent_keeps_it(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    path = tmp_path / "run.sqlite"
    runner = make_runner(BASE, ledger=path)
    for n in range(3):
        await runner.submit("qwen2_vl", ["mme"], model_args={"n": n})
    assert snapshots(path) == {1: None, 2: None, 3: None}
    await runner.close()
    # A process killed between its intent and the answer: its row keeps the snapshot...
    ledger = Ledger(path)
    body = request(9)
    seen = QueueSnapshot(tuple(server.jobs), 0, 0)
    ledger.record_intent(
        token="killed", labels={}, request=body, server=BASE,
        owner="a-host-that-is-gone:1:x", snapshot=seen.to_json(),
    )  # fmt: skip
    ledger.close()
    job_id = server.create(body.to_dict())  # (its POST reached the server)
    assert json.loads(snapshots(path)[4] or "null") == seen.to_json()
    # ...which the next run reconciles by: the job is adopted, and the snapshot cleared.
    runner = make_runner(BASE, ledger=path, orphan_after=0)
    assert await runner.harvest() == []
    adopted = (await runner.jobs())[-1]
    assert adopted.job_id == job_id and adopted.state == "queued"
    assert snapshots(path)[4] is None
    assert server.requests["POST /evaluate"] == 3


async def test_a_ledger_that_kept_its_snapshots_still_works(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    """A ledger written before snapshots were cleared: every answered row keeps one."""
    path = tmp_path / "run.sqlite"
    pending_ledger(path, server, 3)
    conn = sqlite3.connect(path)
    kept = json.dumps(QueueSnapshot(tuple(server.jobs), 0, 0).to_json())
    with conn:
        conn.execute("UPDATE jobs SET snapshot = ?", (kept,))
    conn.close()
    runner = make_runner(BASE, ledger=path)
    assert await runner.harvest() == []
    server.run_all()
    outcomes = await runner.completed(timeout=5)
    assert sorted(o.job.seq for o in outcomes) == [1, 2, 3]
    assert all(o.job.state == "completed" for o in outcomes)


class Counted:
    """The SQL statements a ledger runs, and the TrackedJobs built from its rows."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        self.built = 0
        original = ledger_module.job_from_row

        def counting(row: Any, path: str) -> Any:
            self.built += 1
            return original(row, path)

        for module in (ledger_module, ledger_reads):
            monkeypatch.setattr(module, "job_from_row", counting)

    def trace(self, ledger: Ledger) -> None:
        ledger._store._conn.set_trace_callback(self.statements.append)

    def reset(self) -> None:
        self.statements.clear()
        self.built = 0


@pytest.mark.parametrize("jobs", [5, 60])
async def test_an_idle_poll_runs_the_same_statements_and_builds_no_job(
    server: FakeServer,
    make_runner: MakeRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: int,
) -> None:
    path = tmp_path / "run.sqlite"
    pending_ledger(path, server, jobs)
    server.start_next()
    runner = make_runner(BASE, ledger=path)
    counted = Counted(monkeypatch)
    counted.trace(runner.run._ledger)
    assert await runner.ready() == []  # the warm-up: the first job is seen running
    assert (await runner.job(1)).state == "running"
    counted.reset()
    requests = sum(server.requests.values())
    assert await runner.ready() == []  # idle: nothing changed on the server
    assert sum(server.requests.values()) - requests == 1  # GET /queue
    assert counted.built == 0, "an idle poll built TrackedJobs"
    reads = [s for s in counted.statements if s.lstrip().upper().startswith("SELECT")]
    # submitting rows, pending rows, lost rows (recovery), whether the ledger changed (for
    # completed jobs left without a summary), unharvested: the same for any N
    assert len(counted.statements) <= 8, counted.statements
    assert len(reads) <= 6


async def test_a_poll_builds_jobs_for_the_jobs_that_changed_only(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run.sqlite"
    pending_ledger(path, server, 40)
    runner = make_runner(BASE, ledger=path, summarize=None)
    counted = Counted(monkeypatch)
    assert await runner.ready() == []
    counted.reset()
    for _ in range(2):
        server.finish(server.start_next() or "")
    server.start_next()
    (first, second) = await runner.ready()
    assert (first.job.seq, second.job.seq) == (1, 2)
    assert (await runner.job(3)).state == "running"
    # each finished job: its read-back after the write, and its outcome; none of the 38 others
    assert counted.built <= 2 * 3, counted.built


async def test_a_job_another_process_recorded_is_watched_from_the_next_poll(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    """An idle poll reuses the pending rows it read: a write of another connection (a
    second process on the ledger) must make the next poll read them again."""
    path = tmp_path / "run.sqlite"
    pending_ledger(path, server, 2)
    runner = make_runner(BASE, ledger=path)
    for _ in range(2):
        assert await runner.ready() == []
    pending_ledger(path, server, 1, first=2)  # another process's submission...
    server.finish(list(server.jobs)[-1])  # ...which ends first (the others stay queued)
    (done,) = await runner.harvest()
    assert done.job.seq == 3 and done.job.state == "completed"
    server.run_all()
    assert sorted(o.job.seq for o in await runner.harvest()) == [1, 2]


async def test_as_completed_builds_jobs_for_the_finished_ones_only(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each interval of a wait asks whether anything is pending: without building every
    pending job (30 intervals of 30 pending jobs built 465 of them, and as many per poll)."""
    jobs = 30
    path = tmp_path / "run.sqlite"
    pending_ledger(path, server, jobs)
    runner = make_runner(BASE, ledger=path, summarize=None)
    sleeps = runner.sleeps

    def one_more(seconds: float) -> None:  # each interval, the server finishes one job
        sleeps.delays.append(seconds)
        server.finish(server.start_next() or "")

    async def one_more_async(seconds: float) -> None:
        one_more(seconds)

    runner.run._sleep = one_more_async if runner.is_async else one_more  # type: ignore[assignment]
    counted = Counted(monkeypatch)
    outcomes = await runner.completed(timeout=60)
    assert [o.job.seq for o in outcomes] == list(range(1, jobs + 1))
    assert len(sleeps.delays) == jobs
    # per finished job: its read-back after the write, its outcome, its claim's read
    assert counted.built <= 4 * jobs, counted.built
