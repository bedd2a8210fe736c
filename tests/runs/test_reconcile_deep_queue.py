"""Submissions into a deep queue (respx): the run's previous job on the server, answered under
a second ago with 50 or more jobs ahead of it, stands for the ``/queue`` snapshot, so a
burst of submissions does not read every queued id; a lost answer is still adopted, sent
again, or left unresolved, never guessed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import SubmissionUnresolvedError
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import ANCHOR_FRESH, DEEP_QUEUE, QueueSnapshot
from lmms_eval_client._runs.errors import CorruptLedgerError
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_schema import snapshot_from_text

from ..support import MINIMAL_REQUESTS
from ._fake import BASE, FakeServer
from ._support import LedgerTarget, Runner
from .conftest import MakeRunner

pytestmark = MINIMAL_REQUESTS


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


def fill(server: FakeServer, jobs: int) -> None:
    """Someone else's jobs, queued ahead of the run's."""
    for n in range(jobs):
        server.create({"model": "other", "tasks": ["mme"], "model_args": {"n": n}})


async def submit(runner, n: int):  # type: ignore[no-untyped-def]
    return await runner.submit("qwen2_vl", ["mme"], model_args={"n": n}, labels={"n": n})


class Clock:
    """The run's monotonic clock, moved by the test."""

    def __init__(self, runner: Runner) -> None:
        self.now = 1000.0
        runner.run._poller._clock = lambda: self.now

    def pass_(self, seconds: float) -> None:
        self.now += seconds


async def test_a_burst_into_a_deep_queue_reads_nothing_before_each_post(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE)
    clock = Clock(runner)
    await submit(runner, 0)  # no anchor yet: reads /queue
    for n in range(1, 4):
        clock.pass_(ANCHOR_FRESH * 0.9)
        await submit(runner, n)
    assert (server.requests["GET /queue"], server.requests["GET /jobs"]) == (1, 0)
    assert server.requests["POST /evaluate"] == 4


async def test_an_older_anchor_stands_for_nothing_the_queue_is_read(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE)
    clock = Clock(runner)
    await submit(runner, 0)
    for n in range(1, 4):
        clock.pass_(ANCHOR_FRESH)
        await submit(runner, n)
    assert (server.requests["GET /queue"], server.requests["GET /jobs"]) == (4, 0)


@pytest.mark.parametrize("lose", ["before", "after"])
async def test_a_job_sent_by_someone_else_well_before_ours_is_not_taken_for_it(
    server: FakeServer, make_runner: MakeRunner, lose: str
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE)  # no output root: requests are matched whole
    clock = Clock(runner)
    await submit(runner, 0)
    clock.pass_(ANCHOR_FRESH)
    theirs = server.create(
        {"model": "qwen2_vl", "tasks": ["mme"], "model_args": {"n": 1}}
    )  # the same request as our next one, sent a while before it
    server.lose_next_answers = [lose]
    job = await submit(runner, 1)
    assert job.job_id != theirs and job.job_id in server.jobs


async def test_a_shallow_queue_is_read_whole_and_no_job_is_read(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    fill(server, DEEP_QUEUE - 2)
    runner = make_runner(BASE)
    for n in range(3):  # the third is answered with DEEP_QUEUE ahead: only the next anchors
        await submit(runner, n)
    assert (server.requests["GET /queue"], server.requests["GET /jobs"]) == (3, 0)


async def test_a_lost_answer_behind_an_anchor_is_adopted(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE, output_root=str(tmp_path / "out"))
    first = await submit(runner, 0)
    server.create({"model": "other", "tasks": ["mme"]})  # someone else's, between ours
    server.lose_next_answers = ["after"]
    second = await submit(runner, 1)
    assert server.requests["POST /evaluate"] == 2
    assert second.job_id in server.jobs and second.job_id != first.job_id
    assert [o.event for o in await runner.history(second)] == ["intent", "adopted"]
    assert len(server.jobs) == DEEP_QUEUE + 3


async def test_a_lost_answer_behind_a_waiting_anchor_is_sent_again(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE)
    await submit(runner, 0)
    server.lose_next_answers = ["before"]  # never reached the server
    job = await submit(runner, 1)
    assert server.requests["POST /evaluate"] == 3 and len(server.jobs) == DEEP_QUEUE + 2
    assert job.job_id in server.jobs and job.state == "queued"
    assert [o.event for o in await runner.history(job)] == ["intent", "resend", "answer"]


async def test_an_anchor_gone_when_the_answer_is_lost_leaves_it_unresolved(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE)
    anchor = await submit(runner, 0)
    server.on_lose = lambda: server.finish(anchor.job_id, "cancelled")  # someone cancels it
    server.lose_next_answers = ["before"]
    with pytest.raises(SubmissionUnresolvedError) as info:
        await submit(runner, 1)
    assert info.value.final is True
    assert f"job {anchor.job_id}" in info.value.reason and "no longer queued" in info.value.reason
    assert server.requests["POST /evaluate"] == 2  # not sent again
    lost = [job for job in await runner.jobs() if job.labels == {"n": 1}]
    assert [job.state for job in lost] == ["lost"]


async def test_a_queue_drained_since_an_older_anchor_proves_absence_by_its_counters(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE)
    clock = Clock(runner)
    await submit(runner, 0)
    server.run_all()  # the queue empties while the run waits for a checkpoint
    clock.pass_(60)
    server.lose_next_answers = ["before"]
    job = await submit(runner, 1)  # the counters of a full snapshot prove it absent
    assert job.job_id in server.jobs and server.requests["POST /evaluate"] == 3


async def test_an_anchored_intent_left_by_a_killed_process_is_reconciled(
    server: FakeServer, make_runner: MakeRunner, ledger_target: LedgerTarget
) -> None:
    fill(server, DEEP_QUEUE)
    anchor = server.create({"model": "other", "tasks": ["mme"]})
    ledger = Ledger(ledger_target)  # what a process killed right after sending left behind
    for n, created in ((0, True), (1, False)):
        body = build_evaluate_request(
            "qwen2_vl", ["mme"], {"n": n}, None, None, None, None, None, True, False, 1, None
        )
        ledger.record_intent(
            token=f"t{n}", labels={"n": n}, request=body, server=BASE,
            owner="a-host-that-is-gone:1:x", snapshot=QueueSnapshot.behind(anchor).to_json(),
        )  # fmt: skip
        if created:
            server.create(body.to_dict())
    ledger.close()
    runner = make_runner(BASE, ledger=ledger_target, orphan_after=0)
    assert await runner.harvest() == []
    adopted, unsent = await runner.jobs()
    assert adopted.state == "queued" and adopted.job_id in server.jobs
    assert unsent.state == "unsent" and unsent.job_id is None
    assert server.requests["POST /evaluate"] == 0


@pytest.mark.parametrize(
    "text",
    [
        '{"ids": ["a", "b"], "completed": 0, "failed": 0, "anchored": true}',
        '{"ids": [], "completed": 0, "failed": 0, "anchored": true}',
        '{"ids": ["a"], "completed": 0, "failed": 0, "anchored": "yes"}',
    ],
)
def test_a_damaged_anchored_snapshot_is_a_corrupt_ledger(text: str) -> None:
    with pytest.raises(CorruptLedgerError, match="unreadable queue snapshot"):
        snapshot_from_text(text, "run.sqlite", 7)


def test_an_anchored_snapshot_round_trips_and_a_full_one_is_unchanged() -> None:
    anchored = QueueSnapshot.behind("job-a")
    assert QueueSnapshot.from_json(anchored.to_json()) == anchored
    full = QueueSnapshot(("a", "b"), 3, 1)
    assert full.to_json() == {"ids": ["a", "b"], "completed": 3, "failed": 1}
    assert QueueSnapshot.from_json(full.to_json()) == full
