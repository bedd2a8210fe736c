"""Submissions into a deep queue (respx): with an output root (each request carries its
token, so a match is exact), the run's previous job on the server, sent under a second
before and answered with 50 or more jobs ahead of it, stands for the ``/queue`` snapshot,
so a burst of submissions does not read every queued id; a lost answer is still adopted,
sent again, or left unresolved, never guessed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import RetryOnFailure, SubmissionUnresolvedError
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import (
    ANCHOR_FRESH,
    DEEP_QUEUE,
    Anchor,
    QueueSnapshot,
    ReadQueue,
    SendSubmission,
    submission_plan,
)
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


@pytest.fixture
def root(tmp_path: Path) -> str:
    """The runs' output root: every submission gets a folder named after its token."""
    return str(tmp_path / "out")


def fill(server: FakeServer, jobs: int) -> None:
    """Someone else's jobs, queued ahead of the run's."""
    for n in range(jobs):
        server.create({"model": "other", "tasks": ["mme"], "model_args": {"n": n}})


async def submit(runner, n: int):  # type: ignore[no-untyped-def]
    return await runner.submit("qwen2_vl", ["mme"], model_args={"n": n}, labels={"n": n})


def ours(server: FakeServer, n: int) -> list[str]:
    """The jobs on the server for the run's submission ``n``."""
    return [
        job_id
        for job_id, job in server.jobs.items()
        if job["request"]["model"] == "qwen2_vl" and job["request"]["model_args"] == {"n": n}
    ]


class Clock:
    """The run's monotonic clock, moved by the test."""

    def __init__(self, runner: Runner) -> None:
        self.now = 1000.0
        runner.run._poller._clock = lambda: self.now

    def pass_(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.slow
async def test_a_burst_into_a_deep_queue_reads_nothing_before_each_post(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE, output_root=root)
    clock = Clock(runner)
    await submit(runner, 0)  # no anchor yet: reads /queue
    for n in range(1, 4):
        clock.pass_(ANCHOR_FRESH * 0.9)
        await submit(runner, n)
    assert (server.requests["GET /queue"], server.requests["GET /jobs"]) == (1, 0)
    assert server.requests["POST /evaluate"] == 4


async def test_an_older_anchor_stands_for_nothing_the_queue_is_read(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE, output_root=root)
    clock = Clock(runner)
    await submit(runner, 0)
    for n in range(1, 4):
        clock.pass_(ANCHOR_FRESH)
        await submit(runner, n)
    assert (server.requests["GET /queue"], server.requests["GET /jobs"]) == (4, 0)


async def test_without_an_output_root_every_submission_reads_the_queue(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE)  # requests matched whole: a snapshot keeps the window short
    for n in range(3):
        await submit(runner, n)
    assert server.requests["GET /queue"] == 3


async def test_a_shallow_queue_is_read_whole_and_no_job_is_read(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    fill(server, DEEP_QUEUE - 2)
    runner = make_runner(BASE, output_root=root)
    for n in range(3):  # the third is answered with DEEP_QUEUE ahead: only the next anchors
        await submit(runner, n)
    assert (server.requests["GET /queue"], server.requests["GET /jobs"]) == (3, 0)


async def test_a_lost_answer_behind_an_anchor_is_adopted(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE, output_root=root)
    first = await submit(runner, 0)
    server.create({"model": "other", "tasks": ["mme"]})  # someone else's, between ours
    server.lose_next_answers = ["after"]
    second = await submit(runner, 1)
    assert server.requests["POST /evaluate"] == 2
    assert second.job_id in server.jobs and second.job_id != first.job_id
    assert [o.event for o in await runner.history(second)] == ["intent", "adopted"]
    assert len(server.jobs) == DEEP_QUEUE + 3


async def test_a_lost_answer_behind_a_waiting_anchor_is_sent_again(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE, output_root=root)
    await submit(runner, 0)
    server.lose_next_answers = ["before"]  # never reached the server
    job = await submit(runner, 1)
    assert server.requests["POST /evaluate"] == 3 and len(server.jobs) == DEEP_QUEUE + 2
    assert job.job_id in server.jobs and job.state == "queued"
    assert [o.event for o in await runner.history(job)] == ["intent", "resend", "answer"]


async def test_an_anchor_gone_and_no_job_of_ours_leaves_it_unresolved(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE, output_root=root)
    anchor = await submit(runner, 0)
    server.on_lose = lambda: server.finish(anchor.job_id, "cancelled")  # someone cancels it
    server.lose_next_answers = ["before"]
    with pytest.raises(SubmissionUnresolvedError) as info:
        await submit(runner, 1)
    assert info.value.final is True
    assert f"job {anchor.job_id}" in info.value.reason and "left the queue" in info.value.reason
    assert server.requests["POST /evaluate"] == 2  # not sent again
    assert [job.state for job in await runner.jobs() if job.labels == {"n": 1}] == ["lost"]


@pytest.mark.parametrize("retry", [None, RetryOnFailure(lost=True, max_attempts=2)])
async def test_an_anchor_gone_our_job_near_the_end_is_adopted_once(
    server: FakeServer, make_runner: MakeRunner, root: str, retry: RetryOnFailure | None
) -> None:
    fill(server, 2 * DEEP_QUEUE)  # more than the two ends read
    runner = make_runner(BASE, output_root=root, retry=retry)
    anchor = await submit(runner, 0)
    server.on_lose = lambda: server.finish(anchor.job_id, "cancelled")  # someone cancels it
    server.lose_next_answers = ["after"]  # ours is created, behind the others
    job = await submit(runner, 1)
    assert [o.event for o in await runner.history(job)] == ["intent", "adopted"]
    await runner.harvest()  # a poll (and a retry policy's turn)
    assert ours(server, 1) == [job.job_id]


@pytest.mark.parametrize("retry", [None, RetryOnFailure(lost=True, max_attempts=2)])
async def test_an_anchor_cancelled_our_job_mid_queue_is_adopted_once(
    server: FakeServer, make_runner: MakeRunner, root: str, retry: RetryOnFailure | None
) -> None:
    fill(server, 2 * DEEP_QUEUE)  # others' jobs ahead: more than one end's reads
    runner = make_runner(BASE, output_root=root, retry=retry)
    anchor = await submit(runner, 0)
    create = server.create

    def create_then_a_burst(body: dict[str, object]) -> str:
        job_id = create(body)
        server.create = create  # type: ignore[method-assign]
        fill(server, 2 * DEEP_QUEUE)  # someone else's burst, right after ours
        return job_id

    def cancel_the_anchor() -> None:
        server.finish(anchor.job_id, "cancelled")
        server.create = create_then_a_burst  # type: ignore[method-assign]

    server.on_lose = cancel_the_anchor
    server.lose_next_answers = ["after"]  # ours is created, mid-queue
    job = await submit(runner, 1)
    assert [o.event for o in await runner.history(job)] == ["intent", "adopted"]
    await runner.harvest()  # a poll (and a retry policy's turn)
    assert ours(server, 1) == [job.job_id]


async def test_an_adopted_job_is_no_anchor(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE, output_root=root)
    server.lose_next_answers = ["after"]  # a lost answer can mean a POST sent long ago
    await submit(runner, 0)
    reads = server.requests["GET /queue"]
    await submit(runner, 1)
    assert server.requests["GET /queue"] == reads + 1


async def test_a_queue_drained_since_an_older_anchor_proves_absence_by_its_counters(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    fill(server, DEEP_QUEUE)
    runner = make_runner(BASE, output_root=root)
    clock = Clock(runner)
    await submit(runner, 0)
    server.run_all()  # the queue empties while the run waits for a checkpoint
    clock.pass_(60)
    server.lose_next_answers = ["before"]
    job = await submit(runner, 1)  # the counters of a full snapshot prove it absent
    assert job.job_id in server.jobs and server.requests["POST /evaluate"] == 3


def anchored_intent(ledger: Ledger, anchor: str, root: str, n: int) -> dict[str, object]:
    """What a process killed right after sending left behind: an intent whose snapshot is an
    anchor, its output_dir named after its token; the request's body."""
    body = build_evaluate_request(
        "qwen2_vl", ["mme"], {"n": n}, None, None, None, None, None, True, False, 1,
        f"{root}/20261205-qwen2_vl-t{n}",
    )  # fmt: skip
    ledger.record_intent(
        token=f"t{n}", labels={"n": n}, request=body, server=BASE,
        owner="a-host-that-is-gone:1:x", snapshot=QueueSnapshot.behind(anchor).to_json(),
    )  # fmt: skip
    created: dict[str, object] = body.to_dict()
    return created


async def test_an_anchored_intent_left_by_a_killed_process_is_reconciled(
    server: FakeServer, make_runner: MakeRunner, ledger_target: LedgerTarget, root: str
) -> None:
    fill(server, DEEP_QUEUE)
    anchor = server.create({"model": "other", "tasks": ["mme"]})
    ledger = Ledger(ledger_target)
    server.create(anchored_intent(ledger, anchor, root, 0))  # sent, and created
    anchored_intent(ledger, anchor, root, 1)  # the process died before sending it
    ledger.close()
    runner = make_runner(BASE, ledger=ledger_target, orphan_after=0)
    assert await runner.harvest() == []
    adopted, unsent = await runner.jobs()
    assert adopted.state == "queued" and adopted.job_id in server.jobs
    assert unsent.state == "unsent" and unsent.job_id is None
    assert server.requests["POST /evaluate"] == 0


@pytest.mark.parametrize("retry", [None, RetryOnFailure(lost=True, max_attempts=2)])
async def test_an_orphan_whose_anchor_ran_is_found_by_its_token(
    server: FakeServer,
    make_runner: MakeRunner,
    ledger_target: LedgerTarget,
    root: str,
    retry: RetryOnFailure | None,
) -> None:
    anchor = server.create({"model": "other", "tasks": ["mme"]})
    ledger = Ledger(ledger_target)
    created = anchored_intent(ledger, anchor, root, 1)
    fill(server, 3)  # others' jobs, sent between the anchor and ours
    job_id = server.create(created)  # sent and created; the process died before the answer
    fill(server, 2 * DEEP_QUEUE)  # more than the two ends read
    ledger.close()
    server.start_next()
    server.finish(anchor)  # the run resumes once the anchor ran; ours still waits
    runner = make_runner(BASE, ledger=ledger_target, orphan_after=0, retry=retry)
    await runner.harvest()
    (job,) = await runner.jobs()
    assert job.job_id == job_id and job.state == "queued"
    assert ours(server, 1) == [job_id] and server.requests["POST /evaluate"] == 0


def test_a_plan_asks_for_its_anchor_just_before_it_sends() -> None:
    asked: list[str] = []

    def anchor() -> Anchor:
        asked.append("asked")
        return Anchor("job-a", DEEP_QUEUE)

    body = build_evaluate_request(
        "qwen2_vl", ["mme"], None, None, None, None, None, None, True, False, 1, "/out/x-t"
    )
    plan = submission_plan(body, token="t", anchor=anchor)
    assert asked == []  # not when the plan is made (a worker thread may be a while)
    assert isinstance(next(plan), SendSubmission) and asked == ["asked"]
    fresh = submission_plan(body, token="t")
    assert isinstance(next(fresh), ReadQueue)  # no anchor: the queue is read


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
