"""Pools over local servers on loopback: routing, caps, a server killed, one restarted.

Every test runs with EvalPool and with AsyncEvalPool. The servers' jobs are held at their
JobGate where a test needs the loads to stay put; a server is killed with ``stop()`` and
restarted on the same port (a fresh server: it remembers no job).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    AsyncEvalPool,
    EventLoopError,
    JobNotFoundError,
    JobStatus,
    NoServerAvailableError,
    ServerUnreachableError,
    WaitTimeoutError,
)

from ..faults import proxy
from .conftest import POLL, QWEN, Box, PoolCaller

MakePool = Callable[..., PoolCaller]
StartBox = Callable[..., Box]


async def submit(pool: PoolCaller, tasks: list[str] | None = None) -> Any:
    return await pool.evaluate("qwen2_vl", tasks or ["mme"], model_args=QWEN)


async def finish(pool: PoolCaller, job_id: str) -> Any:
    return await pool.wait_for_job(job_id, poll_interval=POLL, timeout=30, verbose=False)


def release(*boxes: Box) -> None:
    for box in boxes:
        assert box.gate is not None
        box.gate.release()


def on_first_sleep(pool: PoolCaller, action: Callable[[], None]) -> None:
    """Run ``action`` when the pool's wait first sleeps between polls (then sleep briefly)."""
    done: list[bool] = []

    def step() -> None:
        if not done:
            done.append(True)
            action()

    if pool.is_async:

        async def asleep(seconds: float) -> None:
            step()
            await asyncio.sleep(min(seconds, POLL))

        pool.pool._sleep = asleep  # type: ignore[method-assign]
    else:
        import time

        def sleep(seconds: float) -> None:
            step()
            time.sleep(min(seconds, POLL))

        pool.pool._sleep = sleep  # type: ignore[method-assign]


@pytest.mark.slow
async def test_jobs_complete_on_servers_that_offer_their_tasks(
    start_box: StartBox, make_pool: MakePool
) -> None:
    boxes = [
        start_box(job_duration=0.05, tasks=["mme", "mmmu_val"], held=True),
        start_box(job_duration=0.1, tasks=["mme"], held=True),
        start_box(job_duration=0.2, tasks=["mmmu_val", "ai2d"], held=True),
    ]
    offered = {box.url: set(box.tasks) for box in boxes}
    pool = make_pool([box.url for box in boxes])
    wanted = [["mme"], ["mme"], ["ai2d"], ["mmmu_val"], ["mme", "mmmu_val"], ["ai2d"]]
    wanted += [["mme"], ["mmmu_val"], ["mme"]]
    jobs = [await submit(pool, tasks) for tasks in wanted]
    for tasks, job in zip(wanted, jobs, strict=True):
        assert set(tasks) <= offered[job.server], (tasks, job.server)
    # the jobs are held, so each server's load is what it was given: spread evenly
    assert Counter(job.server for job in jobs) == {box.url: 3 for box in boxes}
    release(*boxes)
    for job in jobs:
        assert (await finish(pool, job.job_id)).status == JobStatus.COMPLETED
        assert pool.pool.server_of(job.job_id) == job.server
    assert {j.state for j in pool.pool.jobs()} == {"completed"}
    results = await pool.load_results(jobs[-1].job_id)
    assert results.tasks == ["mme"]


async def test_two_quick_submissions_do_not_land_on_the_same_idle_server(
    start_box: StartBox, make_pool: MakePool
) -> None:
    busy, idle = start_box(held=True), start_box(held=True)
    pool = make_pool([busy.url, idle.url])
    first = await submit(pool)
    assert first.server == busy.url
    # Two more at once: both see the idle server idle in their /queue reads; the second
    # must count the first's submission, on its way there, and go to the other server.
    if pool.is_async:
        two = await asyncio.gather(
            *(pool.pool.evaluate("qwen2_vl", "mme", model_args=QWEN) for _ in range(2))
        )
    else:
        two = [await submit(pool) for _ in range(2)]
    assert sorted(job.server for job in two) == sorted([busy.url, idle.url])
    status = await pool.get_queue_status()
    jobs = [first, *two]
    assert sorted(status.running_jobs + status.queued_jobs) == sorted(j.job_id for j in jobs)
    assert [s.server for s in status.servers] == [busy.url, idle.url]
    release(busy, idle)


async def test_concurrent_submissions_count_each_other_before_any_answer(
    start_box: StartBox,
) -> None:
    # The POSTs are held until both submissions have read the idle server's /queue: both
    # see it idle, so only the pool's count of submissions on their way can split them.
    busy, idle = start_box(held=True), start_box(held=True)
    reads = 0
    both_read = asyncio.Event()

    async def on_request(request: httpx.Request) -> None:
        if request.method == "POST":
            await asyncio.wait_for(both_read.wait(), 10)

    async def on_response(response: httpx.Response) -> None:
        nonlocal reads
        if response.request.url.path == "/queue" and str(response.request.url).startswith(idle.url):
            reads += 1
            if reads == 3:  # the first submission's, then the two concurrent ones'
                both_read.set()

    hooks: dict[str, list[Any]] = {"request": [on_request], "response": [on_response]}
    https = [httpx.AsyncClient(base_url=b.url, event_hooks=hooks) for b in (busy, idle)]
    pool = AsyncEvalPool([AsyncEvalClient(http_client=h) for h in https])
    try:
        first = pool.evaluate("qwen2_vl", "mme", model_args=QWEN)
        both_read.set()  # the first one alone: nothing to wait for
        assert (await first).server == busy.url
        both_read.clear()
        two = await asyncio.gather(
            *(pool.evaluate("qwen2_vl", "mme", model_args=QWEN) for _ in range(2))
        )
        assert sorted(job.server for job in two) == sorted([busy.url, idle.url])
    finally:
        await pool.close()
        for h in https:
            await h.aclose()
        release(busy, idle)


async def test_a_server_at_its_cap_takes_no_more(start_box: StartBox, make_pool: MakePool) -> None:
    boxes = [start_box(held=True), start_box(held=True)]
    pool = make_pool([box.url for box in boxes], max_jobs_per_server=1)
    first, second = await submit(pool), await submit(pool)
    assert {first.server, second.server} == {boxes[0].url, boxes[1].url}
    with pytest.raises(NoServerAvailableError) as info:
        await submit(pool)
    assert len(info.value.reasons) == 2
    assert all("at its cap of 1" in why for why in info.value.reasons.values())
    release(boxes[0])
    await finish(pool, first.job_id if first.server == boxes[0].url else second.job_id)
    assert (await submit(pool)).server == boxes[0].url
    release(boxes[1])


@pytest.mark.slow
async def test_a_server_killed_mid_run(start_box: StartBox, make_pool: MakePool) -> None:
    boxes = [start_box(held=True), start_box(job_duration=0.05), start_box(job_duration=0.1)]
    pool = make_pool([box.url for box in boxes], max_retries=0)
    held = await submit(pool)
    assert held.server == boxes[0].url  # all idle: the first server
    assert boxes[0].gate is not None
    boxes[0].gate.wait_until_held()
    boxes[0].server.stop()  # killed, its running job with it

    with pytest.raises(ServerUnreachableError) as info:
        await pool.get_job(held.job_id)
    assert (info.value.server, info.value.job_id) == (boxes[0].url, held.job_id)
    assert [(j.job_id, j.state) for j in pool.pool.jobs()] == [(held.job_id, "unreachable")]
    with pytest.raises(WaitTimeoutError) as waited:
        await pool.wait_for_job(held.job_id, poll_interval=POLL, timeout=0.2, verbose=False)
    assert isinstance(waited.value.__cause__, ServerUnreachableError)

    # new jobs go to the two others, and complete there
    more = [await submit(pool) for _ in range(4)]
    assert Counter(job.server for job in more) == {boxes[1].url: 2, boxes[2].url: 2}
    for job in more:
        assert (await finish(pool, job.job_id)).status == JobStatus.COMPLETED
    status = await pool.get_queue_status()
    assert status.servers[0].queue is None and status.servers[0].error
    health = await pool.health()
    assert health.status == "degraded"
    assert [s.healthy for s in health.servers] == [False, True, True]
    assert pool.pool.jobs()[0].state == "unreachable"  # still not lost


async def test_a_server_restarted_loses_its_pending_jobs(
    start_box: StartBox, make_pool: MakePool
) -> None:
    boxes = [start_box(held=True), start_box()]
    pool = make_pool([box.url for box in boxes], max_retries=0, recheck_interval=0)
    held = await submit(pool)
    assert held.server == boxes[0].url
    assert boxes[0].gate is not None
    boxes[0].gate.wait_until_held()
    boxes[0].server.stop()
    release(boxes[0])  # the restarted server holds nothing

    # the wait meets the server down (unreachable: it goes on), then back without the job
    on_first_sleep(pool, lambda: boxes[0].restart())
    with pytest.raises(JobNotFoundError) as info:
        await pool.wait_for_job(held.job_id, poll_interval=POLL, timeout=30, verbose=False)
    assert (info.value.server, info.value.job_id) == (boxes[0].url, held.job_id)
    assert pool.pool.jobs()[0].state == "lost"

    # the restarted server takes new jobs again
    again = [await submit(pool) for _ in range(2)]
    assert {job.server for job in again} == {box.url for box in boxes}
    for job in again:
        assert (await finish(pool, job.job_id)).status == JobStatus.COMPLETED


async def test_an_outage_then_the_same_server_with_the_job(
    start_box: StartBox, make_pool: MakePool
) -> None:
    box = start_box(tasks=["mme"], held=True)
    other = start_box(tasks=["ai2d"])
    with proxy(box.url) as front:
        pool = make_pool([front.url, other.url], max_retries=0)
        job = await submit(pool, ["mme"])  # only the proxied server offers mme
        assert job.server == front.url
        assert box.gate is not None
        box.gate.wait_until_held()
        front.down()  # the port refuses connections; the server still runs the job

        with pytest.raises(ServerUnreachableError):
            await pool.get_job(job.job_id)
        with pytest.raises(NoServerAvailableError, match="down"):
            await submit(pool, ["mme"])  # the one server with mme is down
        assert (await submit(pool, ["ai2d"])).server == other.url

        def back() -> None:
            front.up()
            release(box)

        on_first_sleep(pool, back)
        done = await pool.wait_for_job(job.job_id, poll_interval=POLL, verbose=False)
        assert done.status == JobStatus.COMPLETED
        assert pool.pool.jobs()[0].state == "completed"


async def test_a_second_live_event_loop_is_the_callers_error_not_the_servers(
    start_box: Callable[..., Box],
) -> None:
    # An adversarial try: the async pool used from another live event loop (a thread) said
    # NoServerAvailableError and marked every server down: the first loop's next evaluate
    # failed "down (EventLoopError...)" while both servers were up.
    a, b = start_box(), start_box()
    pool = AsyncEvalPool([a.url, b.url])
    try:
        await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)

        def from_another_loop() -> BaseException | None:
            async def go() -> None:
                await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)

            try:
                asyncio.run(go())
            except BaseException as exc:
                return exc
            return None

        raised = await asyncio.to_thread(from_another_loop)
        assert isinstance(raised, EventLoopError), raised
        assert [s.health for s in pool._servers.table.states] == ["up", "up"]
        job = await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)  # this loop: fine
        assert job.server in (a.url, b.url)
    finally:
        await pool.close()
