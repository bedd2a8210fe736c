"""A pool's routing against round-robin and the ideal: 60 jobs over 3 local servers.

    python benchmarks/bench_pool.py            # `make bench-pool`; about 40 s
    python benchmarks/bench_pool.py --seed 3   # another draw of durations

Three local lmms-eval-compatible servers, each in its own process on 127.0.0.1, run one
job at a time as the real one does. 60 jobs of mixed simulated durations (0.05-0.5 s)
are run three ways, on fresh servers each time:

* pool: one AsyncEvalPool with ``max_jobs_per_server=2`` (a job running and one queued
  per server); the driver submits the jobs in order, and when every server is full
  (NoServerAvailableError) waits for any of its jobs to end;
* round-robin: job i to server i mod 3, all submitted at once (routing by hand);
* ideal: the total work divided by 3 (no gaps, perfect balance; not reachable in general).

Two orders of the same durations: a sweep (20 checkpoints, each evaluated on a long, a
medium and a short task, in that order: the usual shape of a training run's evals) and
the same jobs shuffled. The makespan is read from the servers' own timestamps: the first
job's creation to the last job's completion. Targets: the pool within 15% of the ideal,
and faster than round-robin.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from bench_server import ServerProcess

from lmms_eval_client import AsyncEvalClient, AsyncEvalPool, JobInfo, NoServerAvailableError

SERVERS = 3
MODEL = "qwen2_vl"
TASKS = ["mme"]
QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
POLL = 0.05
CAP = 2
TARGET = 1.15  # pool makespan / ideal


def sweep(checkpoints: int, rng: random.Random) -> list[float]:
    """Per checkpoint: a long, a medium and a short task (seconds of simulated work)."""
    durations = []
    for _ in range(checkpoints):
        durations += [rng.uniform(0.3, 0.5), rng.uniform(0.1, 0.25), rng.uniform(0.05, 0.1)]
    return [round(d, 3) for d in durations]


def args_of(duration: float) -> dict[str, object]:
    return {**QWEN, "sim_duration": duration}


def makespan(jobs: Sequence[JobInfo]) -> float:
    """First creation to last completion, on the servers' clocks (one machine here)."""
    start = min(datetime.fromisoformat(j.created_at) for j in jobs)
    end = max(datetime.fromisoformat(j.completed_at or j.created_at) for j in jobs)
    return (end - start).total_seconds()


async def run_pool(urls: Sequence[str], durations: Sequence[float]) -> tuple[float, Counter[str]]:
    async with AsyncEvalPool(list(urls), max_jobs_per_server=CAP) as pool:
        waits: set[asyncio.Task[JobInfo]] = set()
        placed: Counter[str] = Counter()
        for duration in durations:
            while True:
                try:
                    job = await pool.evaluate(MODEL, TASKS, model_args=args_of(duration))
                    break
                except NoServerAvailableError:  # every server full: wait for a job to end
                    _, waits = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            placed[job.server] += 1
            wait = pool.wait_for_job(job.job_id, poll_interval=POLL, verbose=False)
            waits.add(asyncio.ensure_future(wait))
        await asyncio.gather(*waits)
        infos = [await pool.get_job(j.job_id) for j in pool.jobs()]
    return makespan(infos), placed


async def run_round_robin(
    urls: Sequence[str], durations: Sequence[float]
) -> tuple[float, Counter[str]]:
    clients = [AsyncEvalClient(url) for url in urls]
    try:
        submitted = []
        for i, duration in enumerate(durations):
            client = clients[i % len(clients)]
            job = await client.evaluate(MODEL, TASKS, model_args=args_of(duration))
            submitted.append((client, job.job_id))
        infos = await asyncio.gather(
            *(c.wait_for_job(j, poll_interval=POLL, verbose=False) for c, j in submitted)
        )
        return makespan(infos), Counter(c.base_url for c, _ in submitted)
    finally:
        for client in clients:
            await client.close()


Strategy = Callable[[Sequence[str], Sequence[float]], Awaitable[tuple[float, Counter[str]]]]


def measure(workdir: Path, strategy: Strategy, durations: Sequence[float]) -> float:
    """The makespan of one strategy on three fresh servers (each its own process)."""
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                ServerProcess(f"s{i}-{time.monotonic_ns()}", workdir, job_duration=0.1)
            )
            for i in range(SERVERS)
        ]
        urls = [s.url for s in servers]
        span, placed = asyncio.run(strategy(urls, durations))
        work = [0.0] * SERVERS
        counts = [placed[u] for u in urls]
        if strategy is run_round_robin:
            for i, d in enumerate(durations):
                work[i % SERVERS] += d
            print(f"      jobs per server {counts}, work per server "
                  f"{[round(w, 2) for w in work]} s")  # fmt: skip
        else:
            print(f"      jobs per server {counts}")
        return span


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="draw of the durations (default 1)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    ordered = sweep(20, rng)
    shuffled = ordered[:]
    rng.shuffle(shuffled)
    print(f"pool benchmark: {len(ordered)} jobs of {min(ordered):.2f}-{max(ordered):.2f} s "
          f"over {SERVERS} local servers (seed {args.seed}); makespans from the servers' "
          "timestamps")  # fmt: skip
    missed = 0
    with tempfile.TemporaryDirectory(prefix="lmms-eval-bench-pool-") as tmp:
        for name, durations in (("sweep", ordered), ("shuffled", shuffled)):
            ideal = sum(durations) / SERVERS
            print(f"  {name}: total work {sum(durations):.2f} s, ideal {ideal:.2f} s")
            print("    pool (max_jobs_per_server=2)")
            pool = measure(Path(tmp), run_pool, durations)
            print("    round-robin (all submitted at once)")
            rr = measure(Path(tmp), run_round_robin, durations)
            ok_ideal, ok_rr = pool <= TARGET * ideal, pool < rr
            missed += (not ok_ideal) + (not ok_rr)
            print(f"    {'strategy':<12} {'makespan':>9} {'/ ideal':>8}")
            for label, span in (("ideal", ideal), ("pool", pool), ("round-robin", rr)):
                print(f"    {label:<12} {span:>8.2f}s {span / ideal:>7.2f}x")
            print(f"    target pool <= {TARGET:.2f}x ideal: {'met' if ok_ideal else 'MISSED'}; "
                  f"pool < round-robin: {'met' if ok_rr else 'MISSED'}")  # fmt: skip
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
