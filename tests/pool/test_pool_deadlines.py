"""A pool keeps a call's time budget when one of its servers stops answering (an
adversarial try of the pool under faults).

Before: ``wait_for_job(timeout=1)`` on a job whose server hung took 16 s with a pool of
``timeout=5`` (each poll asked with the client's whole timeout and retries: the wait's
deadline was not handed down), where a client alone took 1 s; ``evaluate(timeout=1)`` read
every server's /queue and listings with the pool's timeout first (16 s while a healthy
server sat idle); and a submission whose answer was lost and could not be resolved raised
SubmissionUnresolvedError without the ``server`` it may be on."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    APIConnectionError,
    EvalClient,
    EvalPool,
    EvalRun,
    SubmissionUnresolvedError,
    WaitTimeoutError,
)

from ..faults import FORWARD, Reset, Script, Stall, on, proxy, respond
from .conftest import QWEN, Box, PoolCaller

STALL = Script(then=Stall())


@pytest.mark.slow
async def test_a_wait_ends_at_its_deadline_when_the_jobs_server_stops_answering(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    held, other = start_box(held=True), start_box()
    with proxy(held.url) as hung:
        with EvalClient(hung.url) as client:
            job = client.evaluate("qwen2_vl", ["mme"], QWEN)
        hung.rule = STALL
        pool = make_pool([hung.url, other.url], timeout=5)
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError):
            await pool.wait_for_job(job.job_id, poll_interval=0.05, timeout=1, verbose=False)
        assert time.monotonic() - started < 4  # three of the pool's timeouts before: 16 s


@pytest.mark.slow
async def test_an_evaluates_timeout_bounds_the_reads_that_choose_its_server(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    good = start_box()
    with proxy(good.url, STALL) as hung:
        pool = make_pool([hung.url, good.url], timeout=5)
        started = time.monotonic()
        job: Any = await pool.evaluate("qwen2_vl", ["mme"], QWEN, timeout=1)
        assert job.server == good.url
        assert time.monotonic() - started < 4  # the pool's timeout per read before: 16 s


async def test_an_unresolved_submission_names_the_server_it_may_be_on(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    box = start_box()
    # /queue answers the routing's read and the reconciliation's first, then fails; the
    # POST's connection is reset after it was sent: whether the job exists is unknown.
    post = Script(Reset(), match=on("POST", "/evaluate"))
    queue = Script(FORWARD, FORWARD, then=respond(500, b"no"), match=on("GET", "/queue"))
    with proxy(box.url, lambda seen: post(seen) if seen.method == "POST" else queue(seen)) as lossy:
        pool = make_pool([lossy.url])
        with pytest.raises(SubmissionUnresolvedError) as info:
            await pool.evaluate("qwen2_vl", ["mme"], QWEN, reconcile=True)
    assert getattr(info.value, "server", None) == lossy.url
    assert lossy.url in str(info.value)


async def test_a_submission_whose_first_read_failed_goes_to_another_server(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    # Before: the reconciliation's read of /queue before the POST was reset, and the error
    # said the submission may have been sent (it never was): the pool raised it instead of
    # sending the job to the other, idle server.
    busy, idle = start_box(held=True), start_box()
    with EvalClient(busy.url) as client:
        client.evaluate("qwen2_vl", ["mme"], QWEN)  # so the pool chooses idle first
    queue = Script(FORWARD, then=Reset(), match=on("GET", "/queue"))
    with proxy(idle.url, queue) as flaky:
        pool = make_pool([flaky.url, busy.url], max_retries=0)
        job: Any = await pool.evaluate("qwen2_vl", ["mme"], QWEN, reconcile=True)
        posts = [seen for seen in flaky.seen if seen.method == "POST"]
    assert job.server == busy.url and posts == []


async def test_a_client_says_a_submission_whose_first_read_failed_was_not_sent(
    start_box: Callable[..., Box],
) -> None:
    box = start_box()
    with proxy(box.url, Script(then=Reset(), match=on("GET", "/queue"))) as flaky:
        with EvalClient(flaky.url, max_retries=0) as client, pytest.raises(Exception) as info:
            client.evaluate("qwen2_vl", ["mme"], QWEN, reconcile=True)
        assert not [seen for seen in flaky.seen if seen.method == "POST"]
    assert getattr(info.value, "may_have_been_sent", None) is False, info.value


async def test_a_server_whose_answer_was_lost_is_passed_over_for_a_while(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    # Before: the next jobs went to it again (each answer lost, each job raised), while
    # another server sat idle; the guide says it is tried again after recheck_interval.
    lossy_box, other = start_box(), start_box()
    with proxy(lossy_box.url, Script(then=Reset(), match=on("POST", "/evaluate"))) as lossy:
        pool = make_pool([lossy.url, other.url], max_retries=0, recheck_interval=60)
        with pytest.raises(APIConnectionError) as info:
            await pool.evaluate("qwen2_vl", ["mme"], QWEN)
        assert info.value.may_have_been_sent
        jobs: list[Any] = [await pool.evaluate("qwen2_vl", ["mme"], QWEN) for _ in range(2)]
    assert [job.server for job in jobs] == [other.url, other.url]


@pytest.mark.slow
async def test_a_server_that_hangs_after_it_was_up_holds_a_choice_one_timeout(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    # The adversarial try of the pool: the routing read /queue of a server known up with the
    # client's retries: three timeouts and their pauses (4.3 s at timeout=1) before the idle
    # server got the job.
    good = start_box()
    with proxy(good.url) as flaky:
        # The client's timeout, 1 s a request: no deadline of the call's own stops retries
        # (a call's timeout= does since it bounds the whole call).
        pool = make_pool([flaky.url, good.url], timeout=1)
        await pool.evaluate("qwen2_vl", ["mme"], QWEN)  # both up, read once
        flaky.rule = STALL
        started = time.monotonic()
        job: Any = await pool.evaluate("qwen2_vl", ["mme"], QWEN)
        took = time.monotonic() - started
        asked = [seen for seen in flaky.seen if seen.path == b"/queue"]
    assert job.server == good.url and len(asked) == 2  # the first choice's, and this one's
    assert took < 3, took  # one timeout of the hung server's /queue (three and pauses: 4.3)


@pytest.mark.slow
def test_a_runs_wait_ends_near_its_timeout_when_a_server_hangs(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    # The adversarial try of the pool: run.wait(timeout=1) took 10 s (a pool of timeout=3):
    # each poll read the hung server's /queue with the client's whole timeout and retries.
    hung_box, good = start_box(held=True), start_box()
    with (
        proxy(hung_box.url) as hung,
        EvalPool([hung.url, good.url], timeout=3) as pool,
        EvalRun(pool, tmp_path / "evals.sqlite", poll_interval=0.05) as run,
    ):
        for _ in range(2):  # one on each server (the held one takes the first)
            run.submit("qwen2_vl", ["mme"], model_args=QWEN)
        hung.rule = STALL
        started = time.monotonic()
        result = run.wait(timeout=1, return_when="FIRST_COMPLETED")
        took = time.monotonic() - started
    assert len(result.done) == 1 and len(result.pending) == 1
    assert took < 5, took


@pytest.mark.slow
def test_a_runs_wait_over_several_hung_servers_ends_near_its_timeout(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    # The review: each server's reads were given the wait's whole time left, one after the
    # other: three hung servers held wait(timeout=4) about 12 s.
    boxes = [start_box(held=True) for _ in range(3)]
    with contextlib.ExitStack() as stack:
        hung = [stack.enter_context(proxy(box.url)) for box in boxes]
        pool = stack.enter_context(EvalPool([p.url for p in hung], timeout=30))
        run = stack.enter_context(EvalRun(pool, tmp_path / "evals.sqlite", poll_interval=0.05))
        for _ in range(3):
            run.submit("qwen2_vl", ["mme"], model_args=QWEN)
        for each in hung:
            each.rule = STALL
        started = time.monotonic()
        result = run.wait(timeout=4)
        took = time.monotonic() - started
    assert len(result.pending) == 3
    assert took < 9, took  # 4 s, and a second for each server after the first (before: 12)


@pytest.mark.slow
async def test_a_server_whose_task_list_hangs_holds_a_choice_one_timeout(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    # The review: the listings that choose a server were still read with retries (/tasks
    # sent three times, 4.4 s at timeout=1) while another server could take the job.
    good = start_box()
    with proxy(good.url, Script(then=Stall(), match=on("GET", "/tasks"))) as flaky:
        pool = make_pool([flaky.url, good.url], timeout=1)  # (no deadline: see above)
        started = time.monotonic()
        job: Any = await pool.evaluate("qwen2_vl", ["mme"], QWEN)
        took = time.monotonic() - started
        asked = [seen for seen in flaky.seen if seen.path == b"/tasks"]
    assert job.server == good.url and len(asked) == 1
    assert took < 3, took  # one timeout (three and their pauses: 4.4 s)


async def test_the_only_server_of_a_pool_rides_out_a_blip(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    # The review: reads sent once, a reset /queue refused every job for recheck_interval
    # when no other server could take it; the only server's reads are retried.
    box = start_box()
    with proxy(box.url, Script(Reset(), then=FORWARD, match=on("GET", "/queue"))) as blip:
        job: Any = await make_pool([blip.url]).evaluate("qwen2_vl", ["mme"], QWEN)
    assert job.server == blip.url


def _loses_an_answer_then_cannot_tell() -> Callable[[Any], Any]:
    """The POST reset, then /queue failing once the routing and the reconciliation's first
    read had it: whether the job exists is unknown."""
    post = Script(Reset(), match=on("POST", "/evaluate"))
    queue = Script(FORWARD, FORWARD, then=respond(500, b"no"), match=on("GET", "/queue"))
    return lambda seen: post(seen) if seen.method == "POST" else queue(seen)


async def test_a_server_whose_submission_is_unresolved_is_passed_over_for_a_while(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    # Found after the adversarial try of the pool: a lost answer the reconciliation could
    # not resolve left the server in the routing; the next jobs went to it again.
    lossy_box, other = start_box(), start_box(held=True)
    with EvalClient(other.url) as client:
        client.evaluate("qwen2_vl", ["mme"], QWEN)  # so the routing prefers the lossy one
    with proxy(lossy_box.url, _loses_an_answer_then_cannot_tell()) as lossy:
        pool = make_pool([lossy.url, other.url], max_retries=0, recheck_interval=60)
        with pytest.raises(SubmissionUnresolvedError):
            await pool.evaluate("qwen2_vl", ["mme"], QWEN, reconcile=True)
        lossy.rule = Script()  # it answers again: still passed over until recheck_interval
        job: Any = await pool.evaluate("qwen2_vl", ["mme"], QWEN, reconcile=True)
    assert job.server == other.url


def test_a_runs_server_whose_submission_is_unresolved_is_passed_over_for_a_while(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    lossy_box, other = start_box(), start_box(held=True)
    with EvalClient(other.url) as client:
        client.evaluate("qwen2_vl", ["mme"], QWEN)  # so the routing prefers the lossy one
    with (
        proxy(lossy_box.url, _loses_an_answer_then_cannot_tell()) as lossy,
        EvalPool([lossy.url, other.url], max_retries=0, recheck_interval=60) as pool,
        EvalRun(pool, tmp_path / "evals.sqlite") as run,
    ):
        with pytest.raises(SubmissionUnresolvedError):
            run.submit("qwen2_vl", ["mme"], model_args=QWEN)
        lossy.rule = Script()
        job = run.submit("qwen2_vl", ["mme"], model_args=QWEN)
    assert job.server == other.url
