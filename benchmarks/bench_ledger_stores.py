"""A run's ledger in SQLite vs PostgreSQL (issue 26): submissions/s and what a poll costs.

    python benchmarks/bench_ledger_stores.py [--jobs 500] [--output PATH]

Prints one table (and writes it to build/bench/ledger_stores.txt, untracked): measure |
SQLite | PostgreSQL | floor | ratio PostgreSQL/SQLite. Each store gets a fresh local server
(the ``lmms_eval_client.testing`` CLI in its own process, ``job_duration`` 3,600 s: the first
job runs, the rest stay queued) and a fresh interpreter running one ``EvalRun``: a SQLite
file in a temporary folder, or a schema of its own on a PostgreSQL server this benchmark
starts (tests/postgres.py's ``start_postgres``: 127.0.0.1, a free port, stopped by its PID
and its folder removed at the end, even on Ctrl+C). The child measures:

1. **submissions/s** through ``EvalRun.submit`` (GET /queue, intent, POST /evaluate,
   answer) of the first W = 100 jobs and of the last W after ``--jobs`` - W were queued
   (500 in all by default). Floor: on a third fresh server, raw httpx ``GET /queue`` +
   ``POST /evaluate`` (the request EvalRun sent) one by one at the same depths.
2. **idle poll**: after a warm-up poll, the median of 20 ``run.ready()`` with nothing changed
   on the server (one ``GET /queue`` each), beside the raw ``GET /queue`` (+ ``.json()``) at
   that depth on the same server, median of 20: the floor.
3. **poll, 10 changed**: 10 queued jobs cancelled by raw ``DELETE /jobs/{id}``, then one
   timed ``run.ready()`` (``GET /queue`` + 10 ``GET /jobs/{id}`` + 10 status writes); median
   of 5, beside raw ``GET /queue`` + the 10 ``GET /jobs/{id}`` timed after each.

Cells give the store's figure and, in brackets, its ratio to the floor measured on its own
server; the floor column gives both servers' floors (SQLite's / PostgreSQL's). The machine is
shared: the header gives its CPU count and load average; read the ratios, not wall-clock
figures.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from bench_common import machine_line
from bench_server import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "build" / "bench" / "ledger_stores.txt"
WINDOW = 100  # submissions timed at the start and at the end
IDLE_POLLS = 20
CHANGED, CHANGED_POLLS = 10, 5
RAW_REPEAT = 20
LEDGER_ENV = "BENCH_LEDGER_TARGET"  # the child's ledger: never in argv (a URL's password)
STORES = ("sqlite", "postgresql")


# -- in the child: one store ----------------------------------------------------------------


def median_of(call: Callable[[], object], repeat: int = RAW_REPEAT) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_store(url: str, target: str, size: int) -> dict[str, Any]:
    """Submissions, idle polls and changed polls of one EvalRun over ``target``."""
    from bench_runs import QWEN, Counted

    from lmms_eval_client import EvalClient, EvalRun

    counted = Counted(url)
    raw = httpx.Client(base_url=url, trust_env=False)
    with EvalClient(http_client=counted.http) as client:
        run = EvalRun(client, target)

        def submit_window(first: int) -> float:
            t0 = time.perf_counter()
            for n in range(first, first + WINDOW):
                run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n})
            return WINDOW / (time.perf_counter() - t0)

        first_rate = submit_window(0)
        for n in range(WINDOW, size - WINDOW):  # untimed: the depth
            run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n})
        last_rate = submit_window(size - WINDOW)
        request = run.jobs()[0].request.to_dict()  # the floor's POST sends the same

        run.ready()  # warm-up: records the first job running
        idle, requests = [], []
        for _ in range(IDLE_POLLS):
            before, t0 = counted.count, time.perf_counter()
            run.ready()
            idle.append(time.perf_counter() - t0)
            requests.append(counted.count - before)
        raw_queue = median_of(lambda: raw.get("/queue").json())

        queued = raw.get("/queue").json()["queued_jobs"]
        changed, changed_requests, changed_floor = [], [], []
        for attempt in range(CHANGED_POLLS):
            ids = queued[len(queued) - CHANGED * (attempt + 1) :][:CHANGED]
            for job_id in ids:
                raw.delete(f"/jobs/{job_id}").raise_for_status()
            before, t0 = counted.count, time.perf_counter()
            run.ready()
            changed.append(time.perf_counter() - t0)
            changed_requests.append(counted.count - before)
            t0 = time.perf_counter()
            raw.get("/queue").json()
            for job_id in ids:
                raw.get(f"/jobs/{job_id}").json()
            changed_floor.append(time.perf_counter() - t0)
        run.close()
    raw.close()
    return {
        "first_rate": first_rate, "last_rate": last_rate, "request": request,
        "idle": statistics.median(idle), "idle_requests": max(requests), "raw_queue": raw_queue,
        "changed": statistics.median(changed), "changed_requests": max(changed_requests),
        "changed_floor": statistics.median(changed_floor),
    }  # fmt: skip


def measure_floor(url: str, request: dict[str, Any], size: int) -> dict[str, Any]:
    """Raw GET /queue + POST /evaluate per submission, first and last WINDOW of ``size``."""
    with httpx.Client(base_url=url, trust_env=False) as raw:

        def one() -> None:
            raw.get("/queue").json()
            raw.post("/evaluate", json=request).raise_for_status().json()

        def window() -> float:
            t0 = time.perf_counter()
            for _ in range(WINDOW):
                one()
            return WINDOW / (time.perf_counter() - t0)

        first_rate = window()
        for _ in range(size - 2 * WINDOW):
            one()
        return {"first_rate": first_rate, "last_rate": window()}


# -- the parent -----------------------------------------------------------------------------


def child(kind: str, url: str, size: int, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--url", url, "--jobs", str(size)]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, env=env)
    print(f"  {kind}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_all(folder: Path, size: int) -> dict[str, dict[str, Any]]:
    from tests.postgres import start_postgres  # the repository root is on sys.path

    figures: dict[str, dict[str, Any]] = {}
    postgres = start_postgres()
    try:
        targets = {
            "sqlite": str(folder / "run.sqlite"),
            "postgresql": f"{postgres.url}?schema=bench_{secrets.token_hex(6)}",
        }
        for kind in STORES:
            env = {**os.environ, LEDGER_ENV: targets[kind]}
            with ServerProcess(f"server-{kind}", folder, job_duration=3600) as server:
                figures[kind] = child(kind, server.url, size, env)
        env = {**os.environ, LEDGER_ENV: json.dumps(figures["sqlite"]["request"])}
        with ServerProcess("server-floor", folder, job_duration=3600) as server:
            figures["floor"] = child("floor", server.url, size, env)
    finally:
        postgres.close()
    return figures


def rows_of(f: dict[str, dict[str, Any]], size: int) -> list[tuple[str, ...]]:
    s, p, floor = f["sqlite"], f["postgresql"], f["floor"]

    def ms(seconds: float) -> str:
        return f"{seconds * 1e3:,.1f} ms"

    def rate_row(measure: str, key: str) -> tuple[str, ...]:
        base = floor[key]
        return (
            measure,
            f"{s[key]:,.0f}/s ({s[key] / base:.2f}x)",
            f"{p[key]:,.0f}/s ({p[key] / base:.2f}x)",
            f"{base:,.0f}/s",
            f"{p[key] / s[key]:.2f}x",
        )

    def time_row(measure: str, key: str, floor_key: str) -> tuple[str, ...]:
        return (
            measure,
            f"{ms(s[key])} ({s[key] / s[floor_key]:.2f}x)",
            f"{ms(p[key])} ({p[key] / p[floor_key]:.2f}x)",
            f"{s[floor_key] * 1e3:,.2f} / {p[floor_key] * 1e3:,.2f} ms",
            f"{p[key] / s[key]:.2f}x",
        )

    idle_requests = max(s["idle_requests"], p["idle_requests"])
    changed_requests = max(s["changed_requests"], p["changed_requests"])
    return [
        rate_row(f"submissions/s, first {WINDOW}", "first_rate"),
        rate_row(f"submissions/s, last {WINDOW} ({size - WINDOW} queued)", "last_rate"),
        time_row(
            f"poll, idle ({idle_requests} request; median of {IDLE_POLLS})", "idle", "raw_queue"
        ),
        time_row(
            f"poll, {CHANGED} changed ({changed_requests} requests; median of {CHANGED_POLLS})",
            "changed",
            "changed_floor",
        ),
    ]


def render(rows: Sequence[tuple[str, ...]]) -> str:
    headers = ("measure", "SQLite", "PostgreSQL", "floor", "PostgreSQL/SQLite")
    table = [headers, *rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    return "\n".join([line(headers), "-" * len(line(["-" * w for w in widths]))] + [
        line(row) for row in rows
    ])  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500, help="jobs submitted per store")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="also written here")
    parser.add_argument("--child", choices=(*STORES, "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 2 * WINDOW:
        parser.error(f"--jobs must be at least {2 * WINDOW} (two windows of {WINDOW})")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child == "floor":
        print(json.dumps(measure_floor(args.url, json.loads(os.environ[LEDGER_ENV]), args.jobs)))
        return 0
    if args.child:
        print(json.dumps(measure_store(args.url, os.environ[LEDGER_ENV], args.jobs)))
        return 0
    sys.path.insert(0, str(ROOT))
    load_before, started = os.getloadavg(), datetime.now(timezone.utc)
    t0 = time.perf_counter()
    print(f"measuring {args.jobs:,} jobs per store...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-ledger-stores-") as tmp:
        figures = measure_all(Path(tmp), args.jobs)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"Ledger stores (issue 26), {started:%Y-%m-%d %H:%M} UTC; {args.jobs:,} jobs per store; "
        f"{time.perf_counter() - t0:.0f} s",
        f"machine: {machine_line()}",
        f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in load_before)} before, "
        f"{load} after; os.cpu_count() = {os.cpu_count()} (shared machine: read the ratios)",
        "servers: lmms_eval_client.testing CLI in its own process per store, 127.0.0.1, jobs "
        "queued; PostgreSQL on 127.0.0.1 (tests/postgres.py), a schema of its own",
        "(x) = vs the floor on that store's server; floor = SQLite's / PostgreSQL's server "
        "(submissions: raw GET /queue + POST /evaluate on a third server)",
        "ratios are of the figures shown: below 1x is slower for submissions/s, above 1x is "
        "slower for ms",
        "",
        render(rows_of(figures, args.jobs)),
    ]
    text = "\n".join(lines)
    print(text, flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
