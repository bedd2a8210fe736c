"""Reconciliation of a lost POST /evaluate answer (respx): adopt the job that exists, send
again only when it provably does not, never guess; in runs and in evaluate(reconcile=True)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import (
    APIConnectionError,
    AsyncEvalClient,
    EvalClient,
    SubmissionUnresolvedError,
)
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot, request_matches
from lmms_eval_client._runs.ledger import Ledger

from ..support import MINIMAL_REQUESTS
from ._fake import BASE, FakeServer
from ._support import LedgerTarget
from .conftest import MakeRunner

pytestmark = MINIMAL_REQUESTS


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


async def submit(runner, n: int, **options):  # type: ignore[no-untyped-def]
    return await runner.submit("qwen2_vl", ["mme"], model_args={"n": n}, labels={"n": n}, **options)


async def test_lost_before_the_server_read_it_is_sent_again(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    await submit(runner, 0)
    server.start_next()  # a job ahead still runs: ours cannot have started (FIFO)
    server.lose_next_answers = ["before"]
    job = await submit(runner, 1)
    assert server.requests["POST /evaluate"] == 3 and len(server.jobs) == 2
    assert job.job_id in server.jobs and job.state == "queued"
    assert [o.event for o in await runner.history(job)] == ["intent", "resend", "answer"]


async def test_lost_after_the_server_queued_it_is_adopted(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    runner = make_runner(BASE, output_root=str(tmp_path / "out"))
    server.lose_next_answers = ["after"]
    job = await submit(runner, 0)
    assert server.requests["POST /evaluate"] == 1 and list(server.jobs) == [job.job_id]
    assert [o.event for o in await runner.history(job)] == ["intent", "adopted"]
    assert job.output_dir is not None and job.output_dir.endswith(job.token)


async def test_an_identical_request_already_queued_is_not_taken_for_ours(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    first = await submit(runner, 0)
    server.lose_next_answers = ["before"]  # the same request again, no output root
    second = await submit(runner, 0)
    assert second.job_id != first.job_id and len(server.jobs) == 2


async def test_on_an_idle_server_unchanged_counters_prove_absence(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    server.lose_next_answers = ["before"]
    job = await submit(runner, 0)
    assert len(server.jobs) == 1 and job.job_id in server.jobs


async def test_a_job_that_may_have_run_and_finished_is_never_sent_again(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    server.lose_next_answers = ["after-done"]
    with pytest.raises(SubmissionUnresolvedError) as info:
        await submit(runner, 0)
    assert info.value.final is True and "counters moved by 1" in info.value.reason
    assert server.requests["POST /evaluate"] == 1  # not sent again
    (job,) = await runner.jobs()
    assert job.state == "lost" and job.job_id is None
    (outcome,) = await runner.harvest()
    assert outcome.kind == "lost" and outcome.last_state == "submitting"


async def test_an_unreachable_server_postpones_reconciliation(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE, client_options={"max_retries": 0})
    server.lose_next_answers = ["after-then-down"]
    with pytest.raises(SubmissionUnresolvedError) as info:
        await submit(runner, 0)
    assert info.value.final is False
    (job,) = await runner.jobs()
    assert job.state == "submitting"  # the intent stays, to be reconciled
    server.queue_down = False
    assert await runner.harvest() == []
    (job,) = await runner.jobs()
    assert job.job_id in server.jobs and job.state == "queued" and len(server.jobs) == 1


async def test_an_orphaned_intent_is_reconciled_when_the_ledger_is_reopened(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    ledger = Ledger(path)  # what a process killed right after sending left behind
    for n, created in ((0, True), (1, False)):
        body = build_evaluate_request(
            "qwen2_vl", ["mme"], {"n": n}, None, None, None, None, None, True, False, 1, None
        )
        ledger.record_intent(
            token=f"t{n}", labels={"n": n}, request=body, server=BASE,
            owner="a-host-that-is-gone:1:x", snapshot=QueueSnapshot((), 0, 0).to_json(),
        )  # fmt: skip
        if created:
            server.create(body.to_dict())
    ledger.close()
    runner = make_runner(BASE, ledger=path, orphan_after=0)
    assert await runner.harvest() == []
    adopted, unsent = await runner.jobs()
    assert adopted.state == "queued" and adopted.job_id in server.jobs
    assert unsent.state == "unsent" and unsent.job_id is None
    assert server.requests["POST /evaluate"] == 0


@pytest.mark.parametrize("lose", ["before", "after"])
async def test_evaluate_reconcile_gives_exactly_one_job(
    server: FakeServer, kind: str, lose: str
) -> None:
    client: EvalClient | AsyncEvalClient
    server.create({"model": "qwen2_vl", "tasks": ["mme"]})
    server.start_next()
    server.lose_next_answers = [lose]
    args = ("qwen2_vl", ["mme"])
    if kind == "sync":
        with EvalClient(BASE) as client:
            answer = client.evaluate(*args, limit=4, reconcile=True)
    else:
        async with AsyncEvalClient(BASE) as client:
            answer = await client.evaluate(*args, limit=4, reconcile=True)
    assert answer.job_id in server.jobs and len(server.jobs) == 2
    expected = 2 if lose == "before" else 1
    assert server.requests["POST /evaluate"] == expected


async def test_evaluate_without_reconcile_still_raises(server: FakeServer) -> None:
    server.lose_next_answers = ["after"]
    with EvalClient(BASE) as client, pytest.raises(APIConnectionError) as info:
        client.evaluate("qwen2_vl", ["mme"])
    assert info.value.may_have_been_sent


def test_requests_match_with_the_servers_defaults_filled_in() -> None:
    sent = build_evaluate_request(
        "m", ["t"], {"k": 1}, None, None, None, 8, None, None, None, None, "/o/x"
    )
    echo = sent.model_validate({**sent.model_dump(), "log_samples": True, "extra": 1})
    assert request_matches(sent, echo)
    assert not request_matches(sent, echo.model_copy(update={"output_dir": "/o/y"}))
    assert not request_matches(sent, echo.model_copy(update={"limit": 9}))
