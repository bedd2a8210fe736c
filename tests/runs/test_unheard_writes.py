"""A ledger write that failed, or that succeeded unheard (a PostgreSQL connection lost while
committing), never makes a run take another submission's job for its own, nor wedges it.

Found by the eight-process PostgreSQL test (test_postgres_processes.py), seen as a job left
``submitting`` for good and a process that stopped: two processes sent the same request
(no output_root, so no folder of its own told them apart) while the database restarted.

1. Process A's intent was committed but its write raised ``LedgerConnectionError``; A had
   sent nothing. Its retry under the key reconciled the intent with the server, which held
   a job of the same request that process B had just sent, and adopted B's job.
2. B then could not record its own answer (the job was tracked by A's submission): every
   poll of B raised, and B's submission stayed ``submitting``.

Now the process that saw its intent's write fail knows nothing was sent and records the
intent ``unsent`` (the key passes to the next attempt); and an answer whose job another
submission already tracks is recorded ``lost`` with a note naming it, the job tracked once.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from lmms_eval_client import LedgerBusyError, LedgerConnectionError, LedgerFullError, RetryOnFailure
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client.testing import LocalServer

from ..servers import loopback_http
from ._support import QWEN, server_jobs
from .conftest import LedgerTarget, MakeRunner
from .test_unrecorded_answers import fail_answers

LONG = {**QWEN, "sim_duration": 600}  # stays running for the whole test
# The request a run sends for ``submit("qwen2_vl", ["mme"], model_args=LONG)`` (no
# output_root: the run gives it no folder of its own), as another process sends it.
BODY = {
    "model": "qwen2_vl", "tasks": ["mme"], "model_args": LONG,
    "log_samples": True, "predict_only": False, "num_gpus": 1,
}  # fmt: skip


def commit_then_fail(ledger: Ledger) -> None:
    """The ledger's next intent is written, then its write raises LedgerConnectionError, as
    a connection lost while committing reads to the process."""
    real = ledger.record_intent

    def record_intent(**kwargs: Any) -> Any:
        ledger.record_intent = real  # type: ignore[method-assign]
        real(**kwargs)
        raise LedgerConnectionError(
            "The run ledger: the connection was lost while committing", path=ledger.path
        )

    ledger.record_intent = record_intent  # type: ignore[method-assign]


def adopt_elsewhere(ledger_target: LedgerTarget, server: str, job_id: str) -> int:
    """Another submission of the same request, in another handle of the ledger (another
    process's), adopts ``job_id``; its seq."""
    other = Ledger(ledger_target)
    try:
        body = build_evaluate_request(model="qwen2_vl", tasks=["mme"], model_args=LONG)
        job = other.record_intent(
            token=uuid.uuid4().hex[:12], labels={}, request=body, server=server,
            owner="elsewhere:1:x", snapshot=QueueSnapshot((), 0, 0).to_json(),
        )  # fmt: skip
        other.record_answer(job.seq, job_id, "running", "adopted", {"job_id": job_id})
        return job.seq
    finally:
        other.close()


async def test_an_intent_written_unheard_is_unsent_and_adopts_no_other_job(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    runner = make_runner(local_server.url)
    commit_then_fail(runner.run._ledger)
    with pytest.raises(LedgerConnectionError):
        await runner.submit("qwen2_vl", ["mme"], model_args=LONG, key="step-1")
    assert server_jobs(local_server.url) == []  # nothing was sent
    (unheard,) = await runner.jobs()
    assert unheard.state == "unsent"  # at once: the ledger answered again
    # Another process sends the same request (its answer not in the ledger yet).
    with loopback_http(local_server.url) as http:
        others = http.post("/evaluate", json=BODY).raise_for_status().json()["job_id"]
    # What LedgerConnectionError says to do: submit again under the key.
    job = await runner.submit("qwen2_vl", ["mme"], model_args=LONG, key="step-1")
    assert job.job_id != others
    assert {created["job_id"] for created in server_jobs(local_server.url)} == {
        others,
        job.job_id,
    }
    first, second = await runner.jobs()
    assert (first.state, first.job_id) == ("unsent", None)
    assert first.note is not None and "never sent" in first.note
    assert second.seq == job.seq and second.key == "step-1"


async def test_an_answer_whose_job_another_submission_tracks_is_lost_and_the_run_goes_on(
    make_runner: MakeRunner,
    local_server: LocalServer,
    ledger_target: LedgerTarget,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = make_runner(local_server.url)
    fail_answers(runner.run._ledger, "full")  # the answer is kept, to be written at the poll
    with pytest.raises(LedgerFullError) as info:
        await runner.submit("qwen2_vl", ["mme"], model_args=LONG, key="step-1")
    job_id = info.value.job_id
    assert job_id is not None
    holder = adopt_elsewhere(ledger_target, local_server.url, job_id)
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        await runner.ready()  # writes the kept answer: raised at every poll before
        await runner.ready()
    mine, theirs = await runner.jobs()
    assert (mine.state, mine.job_id) == ("lost", None)
    assert mine.note is not None and f"seq {holder}" in mine.note and job_id in mine.note
    assert (theirs.seq, theirs.job_id) == (holder, job_id)  # the job, tracked once
    assert [r.getMessage() for r in caplog.records if "recorded lost" in r.getMessage()]
    assert len(server_jobs(local_server.url)) == 1


@pytest.mark.parametrize("settled_by", ["poll", "close"])
async def test_an_intent_left_unsettled_is_recorded_unsent_at_the_next_poll_or_close(
    make_runner: MakeRunner, local_server: LocalServer, ledger_target: LedgerTarget, settled_by: str
) -> None:
    runner = make_runner(local_server.url)
    ledger = runner.run._ledger
    commit_then_fail(ledger)
    real = ledger.record_never_sent

    def still_down(token: str, note: str) -> None:  # the ledger does not answer yet
        ledger.record_never_sent = real  # type: ignore[method-assign]
        raise LedgerConnectionError("The run ledger: no connection", path=ledger.path)

    ledger.record_never_sent = still_down  # type: ignore[method-assign]
    with pytest.raises(LedgerConnectionError):
        await runner.submit("qwen2_vl", ["mme"], model_args=LONG, labels={"step": 1})
    (unheard,) = await runner.jobs()
    assert unheard.state == "submitting"
    if settled_by == "poll":
        await runner.ready()
    else:
        await runner.close()
    reader = Ledger(ledger_target, read_only=True)
    try:
        (job,) = reader.jobs()
    finally:
        reader.close()
    assert (job.state, job.job_id) == ("unsent", None)
    assert server_jobs(local_server.url) == []


async def test_a_held_submission_is_sent_again_by_a_retry_policy_for_lost_jobs(
    make_runner: MakeRunner, local_server: LocalServer, ledger_target: LedgerTarget
) -> None:
    # What evaluation-runs.md says: with RetryOnFailure(lost=True), the submission whose
    # job another one holds gets a job of its own (one evaluation per submission).
    runner = make_runner(local_server.url, retry=RetryOnFailure(lost=True, max_attempts=2))
    fail_answers(runner.run._ledger, "full")
    with pytest.raises(LedgerFullError) as info:
        await runner.submit("qwen2_vl", ["mme"], model_args=LONG, key="step-1")
    job_id = info.value.job_id
    assert job_id is not None
    holder = adopt_elsewhere(ledger_target, local_server.url, job_id)
    await runner.ready()  # the kept answer: held, so lost; then retried
    await runner.ready()
    mine, theirs, again = await runner.jobs()
    assert mine.state == "lost" and mine.retried_by == again.seq
    assert (theirs.seq, theirs.job_id) == (holder, job_id)
    assert again.retry_of == mine.seq and again.job_id not in (None, job_id)
    assert again.key == "step-1"
    created = {job["job_id"] for job in server_jobs(local_server.url)}
    assert created == {job_id, again.job_id}


async def test_an_intent_not_written_for_a_busy_ledger_waits_for_the_lock_once(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    # Busy: the intent's transaction never took the run's lock, so nothing was written.
    # Before, the submission then waited busy_timeout once more, to record it unsent.
    runner = make_runner(local_server.url)
    ledger = runner.run._ledger
    after_busy: list[str] = []

    def busy(**kwargs: Any) -> Any:
        raise LedgerBusyError("The run ledger stayed locked", path=ledger.path)

    ledger.record_intent = busy  # type: ignore[method-assign]
    ledger.record_never_sent = lambda token, note: after_busy.append(token)  # type: ignore[method-assign]
    with pytest.raises(LedgerBusyError):
        await runner.submit("qwen2_vl", ["mme"], model_args=LONG, labels={"step": 1})
    await runner.close()
    assert after_busy == []
    assert server_jobs(local_server.url) == []
