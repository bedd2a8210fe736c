"""The phases of bench_run_scale.py, each run in its own interpreter (see its docstring):
fill the ledger and the server, then measure a sync run, an async run's loop stalls and a
poll with changed jobs; and where a ledger's bytes go."""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import pstats
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from bench_loop_stall import longest_stall
from bench_runs import QWEN, Counted

from lmms_eval_api.models import JobSubmitResponse
from lmms_eval_client import AsyncEvalClient, AsyncEvalRun, EvalClient
from lmms_eval_client._runs._sync.run import EvalRun
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.options import new_owner, new_token

CHANGED = 10  # jobs that change in the "changed" poll
RAW_REPEAT = 20
BUDGET = 10.0  # seconds of repeats per figure, after the first
KB, MB = 1024, 1024 * 1024


def window_of(size: int) -> int:
    return min(100, size // 2)


def output_root(ledger: Path) -> str:
    """The runs' output root, beside the ledger: each job gets a folder named after its token
    (as a run at scale would: what lets a submission into a deep queue skip GET /queue)."""
    return str(ledger.parent / "out")


def submit(run: EvalRun, n: int) -> None:
    run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n})


def enough(done: Sequence[float], times: Sequence[float] | None = None) -> bool:
    """Whether the repeats so far took BUDGET seconds: slow code is measured fewer times."""
    return bool(done) and sum(done if times is None else times) > BUDGET


def raw_median(call: Callable[[], object], repeat: int = RAW_REPEAT) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- the phases, each in its own interpreter ------------------------------------------------


def fill(url: str, path: Path, size: int) -> dict[str, Any]:
    window = window_of(size)
    with EvalClient(http_client=httpx.Client(base_url=url, trust_env=False)) as client:
        run = EvalRun(client, path, output_root=output_root(path))
        t0 = time.perf_counter()
        for n in range(window):
            submit(run, n)
        first_rate = window / (time.perf_counter() - t0)
        run.close()
    reader = Ledger(path, read_only=True)
    model = reader.jobs()[0]  # EvalRun's server string and request, as it recorded them
    reader.close()
    payload, bulk = model.request.to_dict(), size - 2 * window
    answers = post_concurrently(url, payload, max(bulk - window, 0))
    http = httpx.Client(base_url=url, trust_env=False)
    posts = []
    for _ in range(min(bulk, window)):  # one by one: the server's own floor at that depth
        t0 = time.perf_counter()
        response = http.post("/evaluate", json=payload)
        posts.append(time.perf_counter() - t0)
        answers.append(JobSubmitResponse.model_validate_json(response.raise_for_status().content))
    queue = http.get("/queue").json()
    http.close()
    ids = [queue["running_job"], *queue["queued_jobs"]]
    counters = {"completed": queue["completed_jobs"], "failed": queue["failed_jobs"]}
    by_id = {answer.job_id: answer for answer in answers}
    ledger = Ledger(path)
    ledger.store._conn.execute("PRAGMA synchronous = OFF")  # a benchmark's fixture: no fsyncs
    if [job.job_id for job in ledger.jobs()] != ids[:window] or len(ids) != size - window:
        raise SystemExit(f"the server's queue is not the ledger's jobs + the bulk: {queue}")
    owner = new_owner()
    for n in range(window, size - window):  # in queue order: the snapshot is the queue before
        job = ledger.record_intent(
            token=new_token(), labels={"n": n}, request=model.request, server=model.server,
            owner=owner, snapshot={"ids": ids[:n], **counters},
        )  # fmt: skip
        answer = by_id[ids[n]]
        data = answer.model_dump(mode="json")
        ledger.record_answer(job.seq, answer.job_id, str(answer.status), "answer", data)
    ledger.close()
    return {"first_rate": first_rate, "raw_post": statistics.median(posts) if posts else None}


def post_concurrently(url: str, payload: dict[str, Any], count: int) -> list[Any]:
    """``count`` raw POST /evaluate from 8 threads: the bulk, fast."""
    with httpx.Client(base_url=url, trust_env=False) as http, ThreadPoolExecutor(8) as pool:

        def post(_: int) -> Any:
            response = http.post("/evaluate", json=payload)
            return JobSubmitResponse.model_validate_json(response.raise_for_status().content)

        return list(pool.map(post, range(count)))


def sync_phase(url: str, path: Path, size: int, repeat: int, profile: bool) -> dict[str, Any]:
    window = window_of(size)
    counted = Counted(url)
    raw = httpx.Client(base_url=url, trust_env=False)
    with EvalClient(http_client=counted.http) as client:
        run = EvalRun(client, path, output_root=output_root(path))
        t0 = time.perf_counter()
        for n in range(size - window, size):
            submit(run, n)
        last_rate = window / (time.perf_counter() - t0)
        run.ready()  # warm-up: imports, first validations; records the first job running
        polls, requests = [], []
        for _ in range(repeat):
            if enough(polls):
                break
            before, t0 = counted.count, time.perf_counter()
            run.ready()
            polls.append(time.perf_counter() - t0)
            requests.append(counted.count - before)
        queued = raw.get("/queue").json()["queued_jobs"]
        raw_queue = raw_median(lambda: raw.get("/queue").json())
        raw_job = raw_median(lambda: raw.get(f"/jobs/{queued[0]}").json())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KB  # Linux: KiB
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(run.ready)
            print_profile(profiler, f"one idle EvalRun poll, {size:,} jobs")
        run.close()
    raw.close()
    return {
        "last_rate": last_rate, "poll": statistics.median(polls), "runs": len(polls),
        "requests": max(requests),
        "raw_queue": raw_queue, "raw_job": raw_job, "rss": rss,
    }  # fmt: skip


def print_profile(profiler: cProfile.Profile, title: str) -> None:
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(18)
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        print(f"\n--- profile of {title}, by {order}", file=sys.stderr)
        print("\n".join(lines[2:]), file=sys.stderr)


def async_phase(url: str, path: Path, repeat: int) -> dict[str, Any]:
    async def measure() -> dict[str, Any]:
        http = httpx.AsyncClient(base_url=url, trust_env=False)
        async with (
            AsyncEvalClient(http_client=http) as client,
            AsyncEvalRun(client, path, output_root=output_root(path)) as run,
        ):
            await run.ready()  # warm-up
            the_polls: list[float] = []
            idle = [await longest_stall(None, idle=0.5) for _ in range(repeat)]
            stalls: list[float] = []
            for _ in range(repeat):
                if enough(stalls, the_polls):  # a stall is the longest gap of one poll
                    break
                t0 = time.perf_counter()
                stalls.append(await longest_stall(run.ready))
                the_polls.append(time.perf_counter() - t0)
        await http.aclose()
        return {"idle": statistics.median(idle), "stall": statistics.median(stalls),
                "worst": max(stalls), "runs": len(stalls)}  # fmt: skip

    return asyncio.run(measure())


def changed_phase(url: str, path: Path, repeat: int) -> dict[str, Any]:
    counted = Counted(url)
    raw = httpx.Client(base_url=url, trust_env=False)
    with EvalClient(http_client=counted.http) as client:
        run = EvalRun(client, path, output_root=output_root(path))
        run.ready()  # warm-up
        queued = raw.get("/queue").json()["queued_jobs"]
        polls, requests = [], []
        for attempt in range(repeat):
            if enough(polls):
                break
            for job_id in queued[len(queued) - CHANGED * (attempt + 1) :][:CHANGED]:
                raw.delete(f"/jobs/{job_id}").raise_for_status()
            before, t0 = counted.count, time.perf_counter()
            run.ready()
            polls.append(time.perf_counter() - t0)
            requests.append(counted.count - before)
        run.close()
    raw.close()
    return {"poll": statistics.median(polls), "requests": max(requests), "runs": len(polls)}


def ledger_bytes(path: Path) -> tuple[int, list[str]]:
    """The ledger's size after a checkpoint, and where its bytes go."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        wal = Path(f"{path}-wal")
        size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        parts: list[tuple[str, int]] = []
        with contextlib.suppress(sqlite3.OperationalError):  # built without dbstat
            parts += conn.execute(
                "SELECT 'table ' || name, SUM(pgsize) FROM dbstat GROUP BY name"
            ).fetchall()
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
        text = ", ".join(f"SUM(LENGTH({column}))" for column in columns)
        sums = conn.execute(f"SELECT {text} FROM jobs").fetchone()
        parts += [(f"jobs.{c}", s or 0) for c, s in zip(columns, sums, strict=True)]
        parts += conn.execute(
            "SELECT 'observations.data (' || event || ')', SUM(LENGTH(data)) FROM observations "
            "GROUP BY event"
        ).fetchall()
    finally:
        conn.close()
    top = sorted(((n, v or 0) for n, v in parts), key=lambda part: -part[1])[:7]
    return size, [f"{name} {value / MB:,.1f} MB ({value / size:.0%})" for name, value in top]
