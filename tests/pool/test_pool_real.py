"""A pool of local servers and one real lmms-eval 0.7.3 server (started on loopback).

The real server here has no ML stack: its ``/tasks`` answers an error (so the pool cannot
rule it out for any task) and its jobs fail at import. They are routed to it all the same,
by load, and end failed, while the local servers' jobs complete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from lmms_eval_client import JobFailedError, JobStatus

from ..servers import real_server
from .conftest import POLL, QWEN, Box, PoolCaller

pytestmark = pytest.mark.real_server


@pytest.mark.slow
async def test_a_real_server_in_the_mix(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    boxes = [
        start_box(job_duration=0.05, tasks=["mme", "mmmu_val"], held=True),
        start_box(job_duration=0.2, tasks=["mme"], held=True),
    ]
    with real_server() as real:
        pool = make_pool([*(b.url for b in boxes), real.url])
        wanted = [["mme"], ["mmmu_val"], ["mme"], ["mme"], ["mmmu_val"], ["mme"]]
        jobs = [await pool.evaluate("qwen2_vl", t, model_args=QWEN) for t in wanted]
        counts = Counter(job.server for job in jobs)
        assert counts[real.url] >= 1, counts  # routed to the real server too
        offered = {b.url: set(b.tasks) for b in boxes}
        for tasks, job in zip(wanted, jobs, strict=True):
            if job.server != real.url:
                assert set(tasks) <= offered[job.server]
        health = await pool.health()
        assert health.status == "healthy"
        assert (await pool.get_queue_status()).servers[2].queue is not None
        for box in boxes:
            assert box.gate is not None
            box.gate.release()
        for job in jobs:
            if job.server == real.url:
                with pytest.raises(JobFailedError) as info:
                    await pool.wait_for_job(
                        job.job_id, poll_interval=POLL, timeout=60, verbose=False
                    )
                assert info.value.job.status == JobStatus.FAILED
            else:
                done = await pool.wait_for_job(
                    job.job_id, poll_interval=POLL, timeout=30, verbose=False
                )
                assert done.status == JobStatus.COMPLETED
        states = Counter(j.state for j in pool.pool.jobs())
        assert states == {"completed": len(jobs) - counts[real.url], "failed": counts[real.url]}
