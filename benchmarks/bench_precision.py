"""Wait precision: how late wait_for_job returns after the job completed on the server.

Lateness is datetime.now() when wait_for_job returns minus the job's ``completed_at``:
both are naive local times of the same machine's clock (the server stamps its jobs with
datetime.now()). A wait polls, then sleeps poll_interval, so it should return at most one
interval plus one request after completion.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from pathlib import Path

from bench_common import CpuPlan, Row, Section, Target, fmt_ms, median
from bench_server import ServerProcess

from lmms_eval_client import AsyncEvalClient

# What one request may add to a wait's lateness in this bound (a get_job on loopback takes
# about a millisecond; the rest is slack for a busy machine).
REQUEST_ALLOWANCE = 0.05


async def _lateness(url: str, durations: list[float], poll_interval: float) -> list[float]:
    async with AsyncEvalClient(url) as client:
        jobs = [
            await client.evaluate(
                model="qwen2_vl",
                tasks=["mme"],
                model_args={"pretrained": "Qwen/Qwen2-VL-2B-Instruct", "sim_duration": seconds},
                log_samples=False,
            )
            for seconds in durations
        ]

        async def late(job_id: str) -> float:
            done = await client.wait_for_job(
                job_id, poll_interval=poll_interval, timeout=120, verbose=False
            )
            returned = datetime.now()
            if done.completed_at is None:
                raise RuntimeError(f"job {job_id} completed without completed_at")
            return (returned - datetime.fromisoformat(done.completed_at)).total_seconds()

        return list(await asyncio.gather(*(late(job.job_id) for job in jobs)))


def run_precision(
    workdir: Path, cpus: CpuPlan, jobs: int, intervals: tuple[float, ...] = (0.1, 1.0)
) -> Section:
    """``jobs`` jobs per poll interval, of 0.15-0.45 s each, awaited concurrently.

    The jobs run one after another on the server, so they complete at staggered,
    irregular moments relative to the polls.
    """
    rng = random.Random(20240607)
    section = Section()
    with ServerProcess("precision", workdir, job_duration=0.0, cpu=cpus.server) as server:
        for interval in intervals:
            durations = [round(rng.uniform(0.15, 0.45), 3) for _ in range(jobs)]
            lateness = asyncio.run(_lateness(server.url, durations, interval))
            bound = interval + REQUEST_ALLOWANCE
            worst = max(lateness)
            target = Target(
                f"wait precision at {interval:g} s",
                worst <= bound and min(lateness) >= 0,
                f"max <= {fmt_ms(bound)} ms",
            )
            section.rows.append(
                Row(
                    "wait",
                    f"lateness at poll_interval={interval:g} s, median / max (ms)",
                    "AsyncEvalClient (ours)",
                    f"{fmt_ms(median(lateness))} / {fmt_ms(worst)}",
                    "",
                    target,
                )
            )
    section.notes.append(
        f"wait: {jobs} jobs of 0.15-0.45 s per interval, awaited concurrently; lateness = "
        "datetime.now() at return - the job's completed_at; bound = one interval + "
        f"{fmt_ms(REQUEST_ALLOWANCE)} ms for one request."
    )
    return section
