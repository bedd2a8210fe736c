"""Evaluation runs at scale (issue 22): an EvalRun of 100, 1,000 and 10,000 jobs.

    python benchmarks/bench_run_scale.py [--jobs 100,1000,10000] [--quick] [--repeat 3]
                                         [--profile] [--output PATH] [--check]

Prints one table (and writes it to build/bench/run_scale.txt, untracked), each row beside
its floor or target, with the ratio. Per size N, a fresh local server (the
``lmms_eval_client.testing`` CLI, in its own process: its work shares neither the run's GIL
nor its memory; ``job_duration`` 3,600 s, so the first job runs and the rest stay queued)
and a fresh ledger; each phase in a fresh interpreter, so sizes and phases do not
contaminate each other:

1. fill: the first W submissions through ``EvalRun.submit`` (W = 100, or N/2 when N < 200),
   timed: **submissions/s, first W**. The bulk (N - 2W) is sent without EvalRun, to keep
   10,000 within minutes, and recorded as EvalRun records it: raw ``POST /evaluate`` (8
   threads, then the last W one by one, timed: the server's own floor of a submission at that
   depth); then, in the server's queue order, ``Ledger.record_intent`` (labels ``{"n": n}`` as
   EvalRun's, the request and server string EvalRun recorded, a fresh token and owner, the
   queue snapshot EvalRun takes before each POST: the ids queued or running before that job,
   completed/failed counters) and ``Ledger.record_answer`` with the server's parsed answer
   (``JobSubmitResponse.model_dump``), with ``synchronous=OFF`` (the same bytes, no fsyncs).
   The ledger's rows are checked against the server's queue first.
2. sync, a fresh process opening the ledger (a trainer resuming): the last W submissions
   through ``EvalRun.submit``: **submissions/s, last W** (ratio last/first: flat is the
   target); then one warm-up poll (it records the first job ``running``) and up to
   ``--repeat`` **idle polls** (``run.ready()``, nothing changed on the server: one ``GET /queue``),
   median, beside the raw ``GET /queue`` at that depth (httpx + ``.json()``, same server,
   median of 20). **Peak RSS** is this process's ``ru_maxrss`` after those polls.
   ``--profile``: one more idle poll under cProfile, its top functions printed to stderr.
3. the **ledger's bytes per job**: ``.sqlite`` plus ``-wal`` after ``wal_checkpoint
   (TRUNCATE)``, over N; where they go (tables, columns, observation events) is printed
   under the table.
4. async, a fresh process: an ``AsyncEvalRun`` over the same ledger and server, all jobs
   pending; the **longest event-loop stall** of a poll, measured with the 1 ms ticker of
   bench_loop_stall.py (``longest_stall``), median (worst) of up to ``--repeat``, beside the
   idle loop's (the floor of what can be measured).
5. changed, a fresh process: after a warm-up poll, up to ``--repeat`` times: 10 queued jobs
   cancelled by raw ``DELETE /jobs/{id}``, then one timed **poll with 10 jobs changed**
   (one ``GET /queue`` + 10 ``GET /jobs/{id}`` + 10 status writes), median, beside raw
   ``GET /queue`` + 10 raw ``GET /jobs/{id}``: it should grow with the jobs that changed, not
   with the jobs pending.

"Up to ``--repeat``": a figure's repeats stop once they took 10 s (the table says how many
ran): one poll of today's code at 10,000 jobs takes tens of seconds.

The machine is shared: the header gives its CPU count and load average; read ratios, not
wall-clock figures. Everything is written in a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from bench_common import machine_line
from bench_loop_stall import longest_stall
from bench_runs import QWEN, Counted
from bench_server import ServerProcess

from lmms_eval_api.models import JobSubmitResponse
from lmms_eval_client import AsyncEvalClient, AsyncEvalRun, EvalClient
from lmms_eval_client._runs._sync.run import EvalRun
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.options import new_owner, new_token

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "build" / "bench" / "run_scale.txt"
CHANGED = 10  # jobs that change in the "changed" poll
RAW_REPEAT = 20
BUDGET = 10.0  # seconds of repeats per figure, after the first
KB, MB = 1024, 1024 * 1024
TARGETS = {"poll": 3.0, "ledger": 4 * KB, "rss": 150 * MB, "stall": 10.0, "flat": 0.8}


def window_of(size: int) -> int:
    return min(100, size // 2)


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
        run = EvalRun(client, path)
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
    ledger._conn.execute("PRAGMA synchronous = OFF")  # a benchmark's fixture: no fsyncs
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
        run = EvalRun(client, path)
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
        async with AsyncEvalClient(http_client=http) as client, AsyncEvalRun(client, path) as run:
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
        run = EvalRun(client, path)
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


# -- the orchestra --------------------------------------------------------------------------


def child(phase: str, url: str, path: Path, size: int, args: argparse.Namespace) -> Any:
    command = [sys.executable, __file__, "--child", phase, "--url", url, "--ledger", str(path)]
    command += ["--jobs", str(size), "--repeat", str(args.repeat)]
    command += ["--profile"] if args.profile else []
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    print(f"  {phase}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_size(folder: Path, size: int, args: argparse.Namespace) -> dict[str, Any]:
    path = folder / "run.sqlite"
    figures: dict[str, Any] = {"size": size, "window": window_of(size)}
    with ServerProcess(f"server-{size}", folder, job_duration=3600) as server:
        started = time.perf_counter()
        figures["fill"] = child("fill", server.url, path, size, args)
        figures["sync"] = child("sync", server.url, path, size, args)
        figures["bytes"], figures["where"] = ledger_bytes(path)
        figures["async"] = child("async", server.url, path, size, args)
        figures["changed"] = child("changed", server.url, path, size, args)
        figures["seconds"] = time.perf_counter() - started
    return figures


def rows_of(f: dict[str, Any]) -> list[tuple[str, ...]]:
    """(measure, value, floor / peer, ratio, target, verdict) of one size."""
    s, w, size = f["sync"], f["window"], f["size"]

    def row(measure: str, value: str, floor: str, ratio: float, target: str, met: bool) -> tuple:
        return (measure, value, floor, f"{ratio:,.2f}x", target, "met" if met else "MISSED")

    changed_floor = s["raw_queue"] + CHANGED * s["raw_job"]
    per_job, rss, stall = f["bytes"] / size, s["rss"], f["async"]
    flat = s["last_rate"] / f["fill"]["first_rate"]

    def of(measured: dict[str, Any]) -> str:
        return f"median of {measured['runs']}" if measured["runs"] > 1 else "1 run"

    rows = [
        row(f"poll, idle ({s['requests']} request; {of(s)})", f"{s['poll'] * 1e3:,.1f} ms",
            f"raw GET /queue {s['raw_queue'] * 1e3:,.2f} ms", s["poll"] / s["raw_queue"],
            "<= 3x", s["poll"] / s["raw_queue"] <= TARGETS["poll"]),
        row(f"poll, {CHANGED} changed ({f['changed']['requests']} requests; {of(f['changed'])})",
            f"{f['changed']['poll'] * 1e3:,.1f} ms",
            f"raw GET /queue + {CHANGED} /jobs/{{id}} {changed_floor * 1e3:,.2f} ms",
            f["changed"]["poll"] / changed_floor, "<= 3x",
            f["changed"]["poll"] / changed_floor <= TARGETS["poll"]),
        row("ledger bytes per job (.sqlite + -wal)", f"{per_job / KB:,.1f} KB",
            f"vs target ({f['bytes'] / MB:,.1f} MB in all)", per_job / TARGETS["ledger"], "< 4 KB",
            per_job < TARGETS["ledger"]),
        row("peak RSS, EvalRun process", f"{rss / MB:,.0f} MB", "vs target", rss / TARGETS["rss"],
            "< 150 MB", rss < TARGETS["rss"]),
        row(f"AsyncEvalRun loop stall, poll ({of(stall)}, worst)",
            f"{stall['stall'] * 1e3:,.1f} ms ({stall['worst'] * 1e3:,.1f})",
            f"idle loop {stall['idle'] * 1e3:,.1f} ms",
            stall["stall"] / stall["idle"], "< 10 ms", stall["stall"] * 1e3 < TARGETS["stall"]),
        row(f"submissions/s, last {w} (vs first {w})", f"{s['last_rate']:,.0f}/s",
            f"first {w}: {f['fill']['first_rate']:,.0f}/s", flat, ">= 0.8x (flat)",
            flat >= TARGETS["flat"]),
    ]  # fmt: skip
    raw_post = f["fill"]["raw_post"]
    if raw_post is not None:  # the server's own floor of a submission at that depth
        floor = s["raw_queue"] + raw_post
        rows.append(
            (f"submission, last {w}", f"{1e3 / s['last_rate']:,.1f} ms",
             f"raw GET /queue + POST {floor * 1e3:,.2f} ms", f"{1 / s['last_rate'] / floor:,.2f}x",
             "", "")
        )  # fmt: skip
    return rows


def render(figures: Sequence[dict[str, Any]]) -> str:
    headers = ("jobs", "measure", "value", "floor / peer", "ratio", "target", "")
    table = [headers]
    for f in figures:
        for n, cells in enumerate(rows_of(f)):
            table.append((f"{f['size']:,}" if n == 0 else "", *cells))
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        right = {2, 4}
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [line(headers), "-" * len(line(["-" * w for w in widths]))]
    for n, cells in enumerate(table[1:]):
        if cells[0] and n:
            out.append("")
        out.append(line(cells))
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", help="sizes, comma-separated (default 100,1000,10000)")
    parser.add_argument("--quick", action="store_true", help="sizes 100,1000 only")
    parser.add_argument("--repeat", type=int, default=3, help="polls measured per figure")
    parser.add_argument("--profile", action="store_true", help="cProfile an idle poll")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="also written here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--child", choices=("fill", "sync", "async", "changed"), help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ledger", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_child(args: argparse.Namespace) -> int:
    size = int(args.jobs)
    if args.child == "fill":
        result = fill(args.url, args.ledger, size)
    elif args.child == "sync":
        result = sync_phase(args.url, args.ledger, size, args.repeat, args.profile)
    elif args.child == "async":
        result = async_phase(args.url, args.ledger, args.repeat)
    else:
        result = changed_phase(args.url, args.ledger, args.repeat)
    print(json.dumps(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    sizes = [
        int(s) for s in (args.jobs or ("100,1000" if args.quick else "100,1000,10000")).split(",")
    ]
    load_before, started = os.getloadavg(), datetime.now(timezone.utc)
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-run-scale-") as tmp:
        for size in sizes:
            print(f"measuring {size:,} jobs...", file=sys.stderr, flush=True)
            folder = Path(tmp) / f"n{size}"
            figures.append(measure_size(folder, size, args))
            print(f"  {figures[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"EvalRun at scale (issue 22), {started:%Y-%m-%d %H:%M} UTC; repeat {args.repeat}",
        f"machine: {machine_line()}",
        f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in load_before)} before, "
        f"{load} after; os.cpu_count() = {os.cpu_count()} (shared machine: read the ratios)",
        "server: lmms_eval_client.testing CLI in its own process, 127.0.0.1, jobs queued",
        "",
        render(figures),
        "",
        *(f"ledger at {f['size']:,} jobs: " + "; ".join(f["where"]) for f in figures),
    ]
    text = "\n".join(lines)
    print(text, flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}", file=sys.stderr)
    missed = any(cells[5] == "MISSED" for f in figures for cells in rows_of(f))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
