"""An orphaned submission (its process killed between the POST and the answer) settled by
two at once: two coroutines of one run (submits under one key, a poll beside a submit), or
two runs (processes) on one ledger. An adversarial try found the later settler's verdict,
taken before the first had adopted the job, written over the adoption: the job, now known,
was "proven absent", recorded ``unsent`` and, under a key, sent again (a second evaluation);
without a key the run never handed out its outcome; and once a raw ``KeyError``. Settling
is one at a time in a run, and a settler writes only while the submission is unsettled."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from lmms_eval_client import AsyncEvalClient, AsyncEvalRun
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_claims import claim
from lmms_eval_client._runs.ledger_keys import KeyTaken
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import Script, Stall, job_count, proxy, start_local_server
from ..servers import loopback_http
from ._support import QWEN, LedgerTarget, record_orphan

LONG = {**QWEN, "sim_duration": 30}  # still queued or running while the test looks


@pytest.fixture
def server(tmp_path: Path) -> Any:
    local = start_local_server(LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path))
    yield local
    local.stop()


def orphan(ledger_target: LedgerTarget, server: LocalServer, key: str | None) -> str:
    """What a process killed right after its POST left: an intent, and the job it sent."""
    body = build_evaluate_request("qwen2_vl", ["mme"], LONG)
    record_orphan(
        ledger_target, server.url, body, token="orphan-token", labels={"step": 1}, key=key
    )
    with loopback_http(server.url) as http:
        return str(http.post("/evaluate", json=body.to_dict()).raise_for_status().json()["job_id"])


async def test_two_submits_under_one_key_settle_the_orphan_once(
    server: LocalServer, ledger_target: LedgerTarget
) -> None:
    job_id = orphan(ledger_target, server, key="step-1")
    async with (
        AsyncEvalClient(server.url) as client,
        AsyncEvalRun(client, ledger_target, orphan_after=0) as run,
    ):
        jobs = await asyncio.gather(
            *(run.submit("qwen2_vl", ["mme"], model_args=LONG, key="step-1") for _ in range(2))
        )
        assert {(job.seq, job.job_id) for job in jobs} == {(1, job_id)}
        assert [job.pending for job in await run.jobs()] == [True]
    assert job_count(server.url) == 1  # not sent again


@pytest.mark.parametrize("adoption_write", ["prompt", "slow"])
async def test_a_poll_beside_a_submit_settles_the_orphan_once(
    server: LocalServer,
    ledger_target: LedgerTarget,
    monkeypatch: pytest.MonkeyPatch,
    adoption_write: str,
) -> None:
    # "slow": seen once in a loaded full run: the poll adopted the orphan's job; the
    # submit's settler, beside it, no longer counted that job (now the run's) as a
    # candidate, found the queue without one, and wrote "unsent" before the poll's adoption
    # reached the ledger: the adoption was then refused and the job sent again. A slow
    # ledger write (0.3 s, injected) opens that window every time.
    if adoption_write == "slow":
        adopt = Ledger.record_answer

        def slow_adoption(self: Ledger, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("settling"):
                time.sleep(0.3)
            return adopt(self, *args, **kwargs)

        monkeypatch.setattr(Ledger, "record_answer", slow_adoption)
    job_id = orphan(ledger_target, server, key="step-1")
    async with (
        AsyncEvalClient(server.url) as client,
        AsyncEvalRun(client, ledger_target, orphan_after=0) as run,
    ):
        job, _ = await asyncio.gather(
            run.submit("qwen2_vl", ["mme"], model_args=LONG, key="step-1"), run.ready()
        )
        assert (job.seq, job.job_id) == (1, job_id)
        assert [job.pending for job in await run.jobs()] == [True]
    assert job_count(server.url) == 1


async def test_a_submit_waits_for_another_settler_no_longer_than_its_own_timeout(
    ledger_target: LedgerTarget,
) -> None:
    # The adversarial try of the settling lock: a poll settling orphans on a hung server
    # held it for every request at the client's timeout; a submit(timeout=0.5) under an
    # orphan's key waited for all of them (23 s for timeout=1 over two orphans).
    with proxy(None, Script(then=Stall())) as hung:
        body = build_evaluate_request("qwen2_vl", ["mme"], LONG)
        for token, key in (("orphan-a", None), ("orphan-k", "k")):
            record_orphan(ledger_target, hung.url, body, token=token, labels={}, key=key)
        async with (
            AsyncEvalClient(hung.url, timeout=30, max_retries=0) as client,
            AsyncEvalRun(client, ledger_target, orphan_after=0) as run,
        ):
            poll = asyncio.ensure_future(run.ready())
            await anyio.to_thread.run_sync(lambda: hung.wait_for(lambda seen: len(seen) > 0))
            started = time.monotonic()
            job = await run.submit("qwen2_vl", ["mme"], model_args=LONG, key="k", timeout=0.5)
            took = time.monotonic() - started
            poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poll
    assert (job.seq, job.state) == (2, "submitting")  # the orphan's, settled later
    assert took < 0.5 + 1.5, f"submit(timeout=0.5) took {took:.1f} s"


async def test_two_runs_on_one_ledger_settle_the_orphan_once(
    server: LocalServer, ledger_target: LedgerTarget
) -> None:
    # Two processes rerun on one ledger (no key): each run settles the orphan at its poll.
    job_id = orphan(ledger_target, server, key=None)
    async with (
        AsyncEvalClient(server.url) as client,
        AsyncEvalRun(client, ledger_target, orphan_after=0) as first,
        AsyncEvalRun(client, ledger_target, orphan_after=0) as second,
    ):
        await asyncio.gather(first.ready(), second.ready())
        (job,) = await first.jobs()
        assert (job.job_id, job.pending) == (job_id, True), job
    assert job_count(server.url) == 1


@pytest.mark.parametrize("late", ["unsent", "lost", "adopted"])
def test_a_late_verdict_leaves_a_settled_submission_as_it_is(
    ledger_target: LedgerTarget, late: str
) -> None:
    ledger = Ledger(ledger_target)
    try:
        body = build_evaluate_request("qwen2_vl", ["mme"], LONG)
        seq = ledger.record_intent(
            token="t", labels={}, request=body, server="http://127.0.0.1:1", owner="gone:1:x",
            snapshot=QueueSnapshot((), 0, 0).to_json(),
        ).seq  # fmt: skip
        ledger.record_answer(seq, "job-1", "queued", "adopted", {}, settling=True)
        ledger.record_status(seq, "completed", None)  # the first settler's run polled it
        if late == "adopted":
            ledger.record_answer(seq, "job-1", "running", "adopted", {}, settling=True)
        else:
            ledger.record_end(seq, late, "a verdict taken before the adoption", late, settling=True)
        job = ledger.job(seq)
        assert (job.job_id, job.state) == ("job-1", "completed")
        assert [o.event for o in ledger.history(seq)] == ["intent", "adopted", "status"]
    finally:
        ledger.close()


async def test_an_adoption_found_late_leaves_what_another_settler_recorded(
    server: LocalServer, ledger_target: LedgerTarget
) -> None:
    # Another process adopts the orphan and sees it complete between this run's finding
    # of the job and its write of the adoption: the write must not take it back to running.
    job_id = orphan(ledger_target, server, key=None)
    async with AsyncEvalClient(server.url) as client:
        run = AsyncEvalRun(client, ledger_target, orphan_after=0)
        ledger = run._poller.ledger
        write = ledger.record_answer

        def another_settler_first(*args: Any, **kwargs: Any) -> Any:
            other = Ledger(ledger_target)
            try:
                other.record_answer(1, job_id, "running", "adopted", {}, settling=True)
                other.record_status(1, "completed", None)
            finally:
                other.close()
            return write(*args, **kwargs)

        ledger.record_answer = another_settler_first  # type: ignore[method-assign]
        try:
            await run.ready()
        finally:
            ledger.record_answer = write  # type: ignore[method-assign]
            await run.close()
    check = Ledger(ledger_target)
    try:
        assert check.job(1).state == "completed"
        assert [o.event for o in check.history(1)] == ["intent", "adopted", "status"]
    finally:
        check.close()


@pytest.mark.parametrize("meanwhile", ["recovered", "harvested", "claimed"])
def test_a_retry_read_before_another_process_settled_the_attempt_is_not_recorded(
    ledger_target: LedgerTarget, meanwhile: str
) -> None:
    # A retrying run reads a lost attempt; before it records the retry's intent, another
    # process's recovery finds the attempt's results complete (or another process hands
    # its failure to its caller, by harvest or receive). The retry must lose: it would
    # evaluate a finished job again (or hand one submission out twice).
    ledger, other = Ledger(ledger_target), Ledger(ledger_target)
    try:
        body = build_evaluate_request("qwen2_vl", ["mme"], LONG)
        seq = ledger.record_intent(
            token="t", labels={}, request=body, server="http://127.0.0.1:1", owner="o",
            snapshot=QueueSnapshot((), 0, 0).to_json(),
        ).seq  # fmt: skip
        ledger.record_answer(seq, "job-1", "queued", "answer", {})
        ledger.record_end(seq, "lost", "the server restarted", "lost")
        stale = ledger.job(seq)  # what the retrying run read
        if meanwhile == "recovered":
            other.record_status(seq, "completed", None)
        elif meanwhile == "harvested":
            assert other.mark_harvested([seq]) == {seq}
        else:
            assert claim(other, [seq], "another-run", lease=60) == [seq]
        with pytest.raises(KeyTaken):
            ledger.record_intent(
                token="t2", labels={}, request=body, server="http://127.0.0.1:1", owner="o",
                snapshot=QueueSnapshot((), 0, 0).to_json(), retry_of=stale,
            )  # fmt: skip
        assert [job.seq for job in ledger.jobs()] == [seq]  # nothing of the retry written
        assert ledger.job(seq).retried_by is None
    finally:
        ledger.close()
        other.close()
