"""Event-loop stalls of an AsyncEvalRun: how long its file and ledger I/O keeps the loop's
other tasks from running.

    python benchmarks/bench_loop_stall.py [--jobs 1000] [--results-mb 5] [--repeat 5]

A task wakes every millisecond beside the run; the longest gap between two of its wake-ups
is the longest stall of the event loop. Measured for:

1. a poll (``ready()``) of ``--jobs`` pending jobs, all still queued: the ledger's reads of
   every pending job, one ``GET /queue``;
2. the default results summary of a job that completed with a results file of
   ``--results-mb`` MB (lmms-eval's shape, many tasks), read at the poll that sees it end;
3. the idle loop: the ticker alone, the floor of what can be measured here.

Each figure is the median of ``--repeat`` runs (the worst in brackets), beside the target
(10 ms) and the floor, as ratios; the load average is printed too: on a busy machine the
threads of this process wait for a CPU, and every figure, the floor included, grows.

The server is an in-process fake (an httpx MockTransport): no network, no other thread, so
what stalls the loop is the run's own work. What a worker thread cannot take off the loop:
a C call that holds the GIL (pydantic parsing a whole results file is one), and the GIL
switch interval (5 ms) each time the loop wants it back. Everything is written in a
temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from bench_results import write_results

from lmms_eval_client import AsyncEvalClient, AsyncEvalRun
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger

BASE = "http://lmms.bench"
TARGET_MS = 10.0
QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
MB = 1024 * 1024


class FakeServer:
    """Answers GET /queue and GET /jobs/{id} from a dict of jobs (in the event loop)."""

    def __init__(self) -> None:
        self.queued: list[str] = []
        self.jobs: dict[str, dict[str, Any]] = {}

    def add(self, job_id: str, request: dict[str, Any], results: str | None) -> None:
        done = results is not None
        self.jobs[job_id] = {
            "job_id": job_id, "status": "completed" if done else "queued",
            "created_at": "2026-01-01T00:00:00", "started_at": None,
            "completed_at": "2026-01-01T00:01:00" if done else None, "request": request,
            "result": {"m": {"results": results, "samples": []}} if done else None,
            "error": None, "position_in_queue": 0,
        }  # fmt: skip
        if not done:
            self.queued.append(job_id)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/queue":
            return httpx.Response(
                200,
                json={
                    "queue_size": len(self.queued), "running_job": None,
                    "queued_jobs": self.queued, "completed_jobs": 0, "failed_jobs": 0,
                },
            )  # fmt: skip
        job = self.jobs.get(request.url.path.rpartition("/")[2])
        if job is None:
            return httpx.Response(404, json={"detail": "Job not found"})
        return httpx.Response(200, json=job)


def prefill(path: Path, server: FakeServer, jobs: int, results: str | None) -> None:
    """A ledger of ``jobs`` answered submissions (written directly: no POST), and the
    server's view of them (queued; completed with ``results`` when given)."""
    body = build_evaluate_request(
        "qwen2_vl", ["mme"], QWEN, None, None, None, None, None, True, False, 1, None
    )
    snapshot = QueueSnapshot((), 0, 0).to_json()
    ledger = Ledger(path)
    ledger.store._conn.execute("PRAGMA synchronous = OFF")  # a benchmark's fixture: no fsyncs
    try:
        for n in range(jobs):
            job_id = str(uuid.uuid4())
            job = ledger.record_intent(
                token=uuid.uuid4().hex, labels={"n": n}, request=body, server=BASE,
                owner="bench:1:x", snapshot=snapshot,
            )  # fmt: skip
            ledger.record_answer(job.seq, job_id, "queued", "answer", {"job_id": job_id})
            server.add(job_id, body.to_dict(), results)
    finally:
        ledger.close()


async def longest_stall(work: Callable[[], Awaitable[Any]] | None, idle: float = 0.0) -> float:
    """The longest gap (s) between two wake-ups of a 1 ms ticker while ``work`` runs (or,
    without work, during ``idle`` seconds)."""
    longest = 0.0

    async def tick() -> None:
        nonlocal longest
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.02)  # the ticker runs before the work starts
    longest = 0.0
    if work is not None:
        await work()
    else:
        await asyncio.sleep(idle)
    await asyncio.sleep(0.01)  # one more wake-up: the gap that ends with the work counts
    ticker.cancel()
    await asyncio.gather(ticker, return_exceptions=True)
    return longest


async def poll_stall(server: FakeServer, ledger: Path) -> float:
    """The longest stall (s) of one ``ready()`` of a run over ``ledger``."""
    http = httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(server.handle))
    async with AsyncEvalClient(http_client=http) as client, AsyncEvalRun(client, ledger) as run:
        stall = await longest_stall(run.ready)
    await http.aclose()
    return stall


async def measure(
    folder: Path, jobs: int, results_mb: float, repeat: int
) -> dict[str, list[float]]:
    results_file = folder / "20261202_000000_results.json"
    write_results(results_file, int(results_mb * MB))
    # The pending jobs stay queued: a poll writes nothing, one ledger serves every run.
    pending, pending_server = folder / "pending.sqlite", FakeServer()
    prefill(pending, pending_server, jobs, None)
    # The completed job is seen completing once per ledger: a fresh copy for each run.
    completed, completed_server = folder / "completed.sqlite", FakeServer()
    prefill(completed, completed_server, 1, str(results_file))
    template = completed.read_bytes()
    await poll_stall(pending_server, pending)  # warm-up: imports, first validations
    stalls: dict[str, list[float]] = {"idle": [], "poll": [], "summary": []}
    for attempt in range(repeat):
        stalls["idle"].append(await longest_stall(None, idle=0.5))
        stalls["poll"].append(await poll_stall(pending_server, pending))
        copy = folder / f"completed-{attempt}.sqlite"
        copy.write_bytes(template)
        stalls["summary"].append(await poll_stall(completed_server, copy))
    return {name: [value * 1000 for value in values] for name, values in stalls.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="pending jobs (default 1000)")
    parser.add_argument("--results-mb", type=float, default=5.0, help="results file size, MB")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-loop-stall-") as tmp:
        figures = asyncio.run(measure(Path(tmp), args.jobs, args.results_mb, args.repeat))
    median = {name: statistics.median(values) for name, values in figures.items()}
    worst = {name: max(values) for name, values in figures.items()}
    floor = median["idle"]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        "Event-loop stalls of an AsyncEvalRun (the longest gap of a 1 ms ticker), median "
        f"(worst) of {args.repeat} runs; target <= {TARGET_MS:.0f} ms; load average {load}"
    )
    print(f"  {'idle loop (floor)':<30} {floor:7.1f} ms ({worst['idle']:.1f})")
    for name, label in (
        ("poll", f"poll, {args.jobs:,} pending jobs"),
        ("summary", f"{args.results_mb:g} MB results summary"),
    ):
        stall = median[name]
        verdict = "met" if stall <= TARGET_MS else "MISSED"
        print(
            f"  {label:<30} {stall:7.1f} ms ({worst[name]:.1f})  {stall / TARGET_MS:6.2f}x "
            f"target  {stall / floor:6.1f}x floor  {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
