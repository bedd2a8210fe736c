"""Fault injection in front of the REAL lmms-eval 0.7.3 server, both clients.

The server holds its jobs (``held_real_server``): the first job stays running and the next
ones queued until the test releases them, so the job count is exact. Without lmms-eval's
ML stack a released job fails, which is what the last test waits for.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from lmms_eval_client import (
    APIConnectionError,
    CancelResponse,
    JobFailedError,
    WaitTimeoutError,
)

from ..faults import ForwardThenDrop, Script, html_502, job_count, on, proxy
from ..servers import RealServer, poll_until, real_server
from ..support import MINIMAL_REQUESTS, MakeClient

pytestmark = [pytest.mark.real_server, MINIMAL_REQUESTS]


def queue(server: RealServer) -> dict[str, object]:
    return dict(httpx.get(f"{server.url}/queue", timeout=10).json())


@pytest.mark.slow
async def test_lost_evaluate_answer_leaves_exactly_one_job_on_the_real_server(
    make_client: MakeClient, held_real_server: RealServer
) -> None:
    rule = Script(ForwardThenDrop(), match=on("POST", "/evaluate"))
    with proxy(held_real_server.url, rule) as p:
        caller = make_client(p.url, max_retries=5)
        with pytest.raises(APIConnectionError) as info:
            await caller.evaluate("qwen2_vl", ["mme"], limit=1)
        assert len([s for s in p.seen if s.method == "POST"]) == 1
        running = (await caller.get_queue_status()).running_job
    exc = info.value
    assert exc.may_have_been_sent is True
    assert "may have reached the server" in str(exc)
    assert "get_queue_status()" in str(exc)
    assert caller.sleeper.delays == []
    assert running is not None
    assert job_count(held_real_server.url) == 1
    # released, the one job fails (no ML stack): still one job, ever
    held_real_server.release_jobs()
    await poll_until(lambda: queue(held_real_server), lambda q: q["failed_jobs"] == 1)
    assert job_count(held_real_server.url) == 1


@pytest.mark.slow
async def test_lost_cancel_answer_is_reconciled_on_the_real_server(
    make_client: MakeClient, held_real_server: RealServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lmms_eval_client")
    with proxy(held_real_server.url, Script(ForwardThenDrop(), match=on("DELETE"))) as p:
        caller = make_client(p.url)
        running = await caller.evaluate("qwen2_vl", ["mme"], limit=1)
        await poll_until(
            lambda: caller.get_job(running.job_id), lambda job: job.status == "running"
        )
        queued = await caller.evaluate("qwen2_vl", ["mme"], limit=1)
        done = await caller.cancel_job(queued.job_id)
        assert len([s for s in p.seen if s.method == "DELETE"]) == 2
    assert isinstance(done, CancelResponse)
    assert done.message == f"Job {queued.job_id} cancelled"
    assert (await make_client(held_real_server.url).get_job(queued.job_id)).status == "cancelled"
    assert "earlier attempt" in caplog.text


@pytest.mark.slow
async def test_wait_for_job_through_502_pages_on_the_real_server(
    make_client: MakeClient, held_real_server: RealServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lmms_eval_client")
    rule = Script(*[html_502()] * 3, match=on("GET", "/jobs/"))
    with proxy(held_real_server.url, rule) as p:
        caller = make_client(p.url, max_retries=0)
        job = await caller.evaluate("qwen2_vl", ["mme"], limit=1)
        caller.sleeper.hook = lambda delay: held_real_server.release_jobs()
        with pytest.raises(JobFailedError) as info:
            await caller.wait_for_job(job.job_id, poll_interval=0.02, timeout=60, verbose=False)
        assert [s.action for s in p.seen if s.method == "GET"][:4] == ["respond"] * 3 + ["forward"]
    assert info.value.job.job_id == job.job_id
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 2 and said[1].endswith("polls work again")  # 3 pages alike: once
    assert job_count(held_real_server.url) == 1


@pytest.mark.slow
async def test_real_server_killed_mid_wait_ends_at_the_wait_deadline(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGKILL, no restart: the wait rides the refusals out until its own deadline."""
    caplog.set_level(logging.WARNING, logger="lmms_eval_client")
    with real_server(hold_jobs=True) as server:
        caller = make_client(server.url)
        job = await caller.evaluate("qwen2_vl", ["mme"], limit=1)

        def between_polls(delay: float) -> None:
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait(10)

        caller.sleeper.hook = between_polls
        caller.sleeper.cap = 0.05
        with pytest.raises(WaitTimeoutError) as info:
            await caller.wait_for_job(job.job_id, poll_interval=0.05, timeout=1.0, verbose=False)
    exc = info.value
    assert exc.job is not None and exc.job.status == "running"  # the last state seen
    assert isinstance(exc.__cause__, APIConnectionError)
    assert "last poll failed" in str(exc)
    assert len(caplog.records) >= 1
    assert all(job.job_id in r.getMessage() for r in caplog.records)
