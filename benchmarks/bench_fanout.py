"""Fan-out: one async client submits N jobs and waits for all of them at once.

Requests are counted from httpx's own log record per request ("HTTP Request: ..."),
which every httpx-based client emits, so both clients are counted alike and used as
built. Open connections are counted on the server's side of the loopback (ESTABLISHED
sockets on its port in /proc/net/tcp), sampled every few milliseconds from a thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bench_common import CpuPlan, Row, Section, Target
from bench_server import ServerProcess, established_peers
from lmms_eval.entrypoints.client import (  # type: ignore[import-untyped]
    AsyncEvalClient as LmmsAsyncEvalClient,
)

from lmms_eval_client import AsyncEvalClient

MODEL = "qwen2_vl"
TASKS = ["mme"]
SAMPLE_EVERY = 0.005


def model_args(i: int) -> dict[str, Any]:
    """Jobs of 1 to 5 ms of simulated evaluation."""
    return {"pretrained": "Qwen/Qwen2-VL-2B-Instruct", "sim_duration": 0.001 + (i % 5) * 0.001}


class RequestCounter(logging.Handler):
    """Counts the requests httpx sends, per URL path: httpx logs one INFO record per
    response received (a request that fails below HTTP is not counted: it is an error)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.total = 0
        self.per_path: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.total += 1
        args = record.args
        if isinstance(args, tuple) and len(args) >= 2 and isinstance(args[1], httpx.URL):
            self.per_path[args[1].path] += 1

    def __enter__(self) -> RequestCounter:
        logger = logging.getLogger("httpx")
        self._saved = (logger.level, logger.propagate)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("httpx")
        logger.removeHandler(self)
        logger.level, logger.propagate = self._saved


class ConnectionSampler(threading.Thread):
    """Samples the server's established connections until stopped.

    Keeps the peak of simultaneous connections and every connection seen (a connection
    that is closed and replaced shows as more connections seen than the peak).
    """

    def __init__(self, port: int) -> None:
        super().__init__(name="connection-sampler", daemon=True)
        self.port = port
        self.peak: int | None = None
        self.seen: set[str] = set()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            peers = established_peers(self.port)
            if peers is None:
                return
            self.peak = max(self.peak or 0, len(peers))
            self.seen |= peers
            self._stop_event.wait(SAMPLE_EVERY)

    def __enter__(self) -> ConnectionSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_event.set()
        self.join()


@dataclass
class FanoutResult:
    label: str
    jobs: int
    wall: float
    requests: int
    max_requests_per_job: int
    peak_connections: int | None
    connections_opened: int
    errors: int
    unfinished: int
    first_error: str


OneJob = Callable[[int], Awaitable[str]]


async def gather_until(jobs: int, one_job: OneJob, deadline: float) -> tuple[list[object], int]:
    """Run every job concurrently; their outcomes (a status or an exception) and how many
    were still unfinished at the deadline (then cancelled)."""
    tasks = [asyncio.ensure_future(one_job(i)) for i in range(jobs)]
    done, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    outcomes: list[object] = []
    for task in done:
        error = task.exception()
        outcomes.append(error if error is not None else task.result())
    return outcomes, len(pending)


def _run(
    label: str,
    server: ServerProcess,
    jobs: int,
    fan_out: Callable[[], Coroutine[Any, Any, tuple[list[object], int]]],
) -> FanoutResult:
    with RequestCounter() as counter, ConnectionSampler(server.port) as sampler:
        start = time.perf_counter()
        outcomes, unfinished = asyncio.run(fan_out())
        wall = time.perf_counter() - start
    failures = [o for o in outcomes if o != "completed"]
    polls = [n for path, n in counter.per_path.items() if path.startswith("/jobs/")]
    return FanoutResult(
        label=label,
        jobs=jobs,
        wall=wall,
        requests=counter.total,
        max_requests_per_job=1 + max(polls, default=0),
        peak_connections=sampler.peak,
        connections_opened=len(sampler.seen),
        errors=len(failures),
        unfinished=unfinished,
        first_error=repr(failures[0])[:300] if failures else "",
    )


def fan_out_ours(
    server: ServerProcess, jobs: int, connections: int, poll_interval: float, deadline: float
) -> FanoutResult:
    """Our AsyncEvalClient, its pool bounded with ``limits``, as a user would configure it."""

    async def fan_out() -> tuple[list[object], int]:
        limits = httpx.Limits(max_connections=connections)
        async with AsyncEvalClient(server.url, limits=limits) as client:

            async def one_job(i: int) -> str:
                job = await client.evaluate(
                    model=MODEL, tasks=TASKS, model_args=model_args(i), log_samples=False
                )
                done = await client.wait_for_job(
                    job.job_id, poll_interval=poll_interval, timeout=deadline, verbose=False
                )
                return str(done.status)

            return await gather_until(jobs, one_job, deadline)

    return _run(f"AsyncEvalClient (ours), max_connections={connections}", server, jobs, fan_out)


def fan_out_lmms_eval(
    server: ServerProcess, jobs: int, poll_interval: float, deadline: float
) -> FanoutResult:
    """lmms-eval's AsyncEvalClient as built: httpx's default pool (100 connections, 20 kept
    alive), no timeout, evaluate(model, tasks, **kwargs)."""

    async def fan_out() -> tuple[list[object], int]:
        async with LmmsAsyncEvalClient(server.url) as client:

            async def one_job(i: int) -> str:
                job = await client.evaluate(
                    MODEL, TASKS, model_args=model_args(i), log_samples=False
                )
                done = await client.wait_for_job(
                    job["job_id"], poll_interval=poll_interval, timeout=deadline, verbose=False
                )
                return str(done["status"])

            return await gather_until(jobs, one_job, deadline)

    return _run("lmms-eval AsyncEvalClient (default pool)", server, jobs, fan_out)


def run_fanout(
    workdir: Path,
    cpus: CpuPlan,
    jobs: int,
    connections: int,
    poll_interval: float,
    deadline: float,
) -> Section:
    """Our AsyncEvalClient, then lmms-eval's, each on a fresh server."""
    keep = max(1000, jobs)  # finished jobs the server keeps: none evicted before its wait sees it

    def server(name: str) -> ServerProcess:
        return ServerProcess(
            f"fanout-{name}", workdir, job_duration=0.001, max_completed_jobs=keep, cpu=cpus.server
        )

    with server("ours") as ours_server:
        ours = fan_out_ours(ours_server, jobs, connections, poll_interval, deadline)
    with server("lmms-eval") as lmms_server:
        theirs = fan_out_lmms_eval(lmms_server, jobs, poll_interval, deadline)

    section = Section()
    for result in (ours, theirs):
        is_ours = result is ours
        finished = jobs - result.unfinished
        wall = f"{result.wall:.1f}" if not result.unfinished else f"> {deadline:g}"
        peak = "n/a" if result.peak_connections is None else str(result.peak_connections)
        if result.peak_connections is not None:
            peak += f" ({result.connections_opened})"
        errors = str(result.errors)
        if result.unfinished:
            errors += f" (+{result.unfinished} unfinished at the {deadline:g} s deadline)"
        peak_target = errors_target = None
        if is_ours:
            peak_target = Target(
                "fan-out connections",
                result.peak_connections is not None and result.peak_connections <= connections,
                f"<= {connections}",
            )
            errors_target = Target(
                "fan-out errors", result.errors == 0 and result.unfinished == 0, "0"
            )
        rows = [
            (f"{jobs} jobs submitted + awaited: wall time (s)", wall, None),
            (
                "requests per job, mean / max",
                f"{result.requests / max(finished, 1):.1f} / {result.max_requests_per_job}",
                None,
            ),
            ("open connections (server side): peak (distinct in the run)", peak, peak_target),
            ("errors", errors, errors_target),
        ]
        section.rows.extend(
            Row("fan-out", measure, result.label, value, "", target)
            for measure, value, target in rows
        )
        if result.errors:
            section.notes.append(f"fan-out: {result.label}: first error: {result.first_error}")
    section.notes.append(
        f"fan-out: {jobs} jobs of 1-5 ms simulated evaluation (the server runs them one at a "
        "time), each submitted then awaited, all concurrently in one event loop "
        f"(wait_for_job, poll_interval={poll_interval:g} s, verbose=False); requests counted "
        "from httpx's per-request log record, connections sampled every 5 ms from "
        "/proc/net/tcp on the server's port (distinct: connections seen over the run)."
    )
    return section
