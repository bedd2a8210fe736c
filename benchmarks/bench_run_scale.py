"""Evaluation runs at scale (issue 22): an EvalRun of 100, 1,000 and 10,000 jobs.

    python benchmarks/bench_run_scale.py [--jobs 100,1000,10000] [--quick] [--repeat 3]
                                         [--profile] [--output PATH] [--check]

Prints one table (and writes it to build/bench/run_scale.txt, untracked), each row beside
its floor or target, with the ratio. Per size N, a fresh local server (the
``lmms_eval_client.testing`` CLI, in its own process: its work shares neither the run's GIL
nor its memory; ``job_duration`` 3,600 s, so the first job runs and the rest stay queued)
and a fresh ledger (the runs have an output root, so each job gets a folder named after its
token); each phase in a fresh interpreter, so sizes and phases do not
contaminate each other (the phases are in bench_run_phases.py):

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
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench_common import machine_line
from bench_run_phases import (
    CHANGED,
    KB,
    MB,
    async_phase,
    changed_phase,
    fill,
    ledger_bytes,
    sync_phase,
    window_of,
)
from bench_server import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "build" / "bench" / "run_scale.txt"
TARGETS = {"poll": 3.0, "ledger": 4 * KB, "rss": 150 * MB, "stall": 10.0, "flat": 0.8}


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
    if raw_post is not None:  # the server's own floor of a submission at that depth: its POST
        rows.append(
            (f"submission, last {w}", f"{1e3 / s['last_rate']:,.1f} ms",
             f"raw POST {raw_post * 1e3:,.2f} ms", f"{1 / s['last_rate'] / raw_post:,.2f}x",
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
