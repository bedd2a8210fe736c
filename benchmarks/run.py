"""Benchmarks of lmms-eval-client against raw httpx and lmms-eval 0.7.3's own client.

    python benchmarks/run.py            # the full run (`make bench`), a few minutes
    python benchmarks/run.py --quick    # a smoke run, well under a minute

Prints one table, and writes it to build/bench/results.md (untracked: a run leaves the tree
clean); ``--output benchmarks/results.md`` (``make bench-record``) records it in the tracked
file.

0. cli and results (issue 22): the command line's start-up (``status JOB`` vs a fresh
   Python doing the raw GET, target <= 1.3x; ``--help`` vs a two-command typer app, target
   <= 1.5x), and reading results files at scale (``EvalResults.load`` + ``.metrics`` of
   100 MB vs ``json.load``, target <= 1.3x; streaming 500 MB of samples vs a plain
   ``json.loads`` loop, target >= 0.8x, memory flat); see bench_cli.py, bench_results.py.
1. latency: per-call time of get_job, get_queue_status and evaluate, for raw
   httpx.Client / httpx.AsyncClient (the floors), lmms-eval's clients and ours,
   interleaved; target: our EvalClient.get_job <= 1.10x raw httpx.Client.
2. import: `import lmms_eval_client`, and `from lmms_eval_client import EvalClient`
   (AsyncEvalClient, EvalRun), vs `import httpx, pydantic` in fresh interpreters; target
   <= 1.20x (when missed, -X importtime says which modules make the difference).
3. fan-out: one AsyncEvalClient submits and awaits 1,000 jobs concurrently: wall time,
   requests per job, peak connections (<= max_connections), errors (0); the same with
   lmms-eval's AsyncEvalClient.
4. wait: how late wait_for_job returns after the job completed, at poll_interval 0.1 s
   and 1 s; target: at most one interval plus one request.
5. alarms: false "the job may exist" alarms per 1,000 submissions after idle pauses
   straddling uvicorn's 5 s keep-alive, sync and async, httpx's keep-alive vs ours;
   target < 1 per 1,000 and no duplicate (bench_false_alarms.py; about 4 minutes).
6. construct: making and closing an EvalClient / AsyncEvalClient vs httpx's own client
   made by default (which loads the CA bundle each time); target <= 1.0x
   (bench_construct.py).

Every server is the local lmms-eval-compatible server's CLI (python -m
lmms_eval_client.testing) in its own process on 127.0.0.1, so the server's CPU work does
not share the client's GIL (with --pin, they also run on different CPUs).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from bench_cli import run_cli
from bench_common import CpuPlan, Section, machine_line, render_markdown, render_text, version_of
from bench_construct import run_construct
from bench_false_alarms import run_false_alarms
from bench_fanout import run_fanout
from bench_imports import run_imports
from bench_latency import run_latency
from bench_precision import run_precision
from bench_results import run_results

BENCHMARKS = ("import", "cli", "results", "latency", "fanout", "wait", "alarms", "construct")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "build" / "bench" / "results.md"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (small counts)")
    parser.add_argument("--iterations", type=int, help="latency: timed rounds (default 600)")
    parser.add_argument("--warmup", type=int, help="latency: warm-up rounds (default 50)")
    parser.add_argument("--import-runs", type=int, help="import: runs per snippet (default 20)")
    parser.add_argument("--jobs", type=int, help="fan-out: jobs (default 1000)")
    parser.add_argument(
        "--connections", type=int, default=32, help="fan-out: our max_connections (default 32)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=0.1, help="fan-out: poll_interval (default 0.1)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=150.0,
        help="fan-out: seconds after which a run's unfinished jobs are abandoned (default 150)",
    )
    parser.add_argument("--wait-jobs", type=int, help="wait: jobs per poll interval (default 10)")
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(BENCHMARKS),
        help=f"comma-separated subset of {','.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the client to one CPU and the servers to another (tails grow when the "
        "servers share their CPU with other load)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="Markdown results file (default build/bench/results.md)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose among {BENCHMARKS}")

    def pick(value: int | None, full: int, quick: int) -> int:
        return value if value is not None else (quick if args.quick else full)

    args.iterations = pick(args.iterations, 600, 60)
    args.warmup = pick(args.warmup, 50, 10)
    args.import_runs = pick(args.import_runs, 20, 4)
    args.cli_runs = 15 if not args.quick else 4
    args.profile_runs = 3 if not args.quick else 1
    args.jobs = pick(args.jobs, 1000, 100)
    args.wait_jobs = pick(args.wait_jobs, 10, 4)
    args.alarm_submissions = 1000 if not args.quick else 100
    args.construct_rounds = 15 if not args.quick else 3
    return args


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def environment_notes() -> list[str]:
    notes = []
    if importlib.util.find_spec("sniffio") is None:
        notes.append(
            f"environment: sniffio is not installed (anyio {version_of('anyio')} does not depend "
            "on it), so httpcore retries `import sniffio` each time it sets up an async lock or "
            "event: every async httpx client here, raw or not, pays that on each request."
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cpus = CpuPlan.choose(args.pin)
    cpus.pin_client()
    started = datetime.now()
    load_before = load_average()
    sections: list[Section] = []

    with tempfile.TemporaryDirectory(prefix="lmms-eval-client-bench-") as tmp:
        workdir = Path(tmp)
        runs: dict[str, Callable[[], Section]] = {
            "import": lambda: run_imports(workdir, args.import_runs, args.profile_runs),
            "cli": lambda: run_cli(workdir, args.cli_runs),
            "results": lambda: run_results(workdir, quick=args.quick),
            "latency": lambda: run_latency(workdir, cpus, args.iterations, args.warmup),
            "fanout": lambda: run_fanout(
                workdir, cpus, args.jobs, args.connections, args.poll_interval, args.deadline
            ),
            "wait": lambda: run_precision(workdir, cpus, args.wait_jobs),
            "alarms": lambda: run_false_alarms(workdir, cpus, args.alarm_submissions),
            "construct": lambda: run_construct(args.construct_rounds),
        }
        for name in BENCHMARKS:
            if name not in args.only:
                continue
            print(f"running {name}...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            sections.append(runs[name]())
            print(f"  {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)

    elapsed = (datetime.now() - started).total_seconds()
    rows = [row for section in sections for row in section.rows]
    targets = [target for section in sections for target in section.targets]
    notes = environment_notes() + [note for section in sections for note in section.notes]
    title = f"lmms-eval-client benchmarks, {started:%Y-%m-%d %H:%M}" + (
        " (--quick)" if args.quick else ""
    )
    header = [
        f"machine: {machine_line()}",
        f"server: lmms_eval_client.testing CLI in its own process on 127.0.0.1 "
        f"({cpus.describe()}); whole run {elapsed:.0f} s; 1-min load average "
        f"{load_before} before, {load_average()} after",
    ]
    summary = "targets: " + (
        "; ".join(f"{t.name} {t.detail}: {t.verdict}" for t in targets) or "none measured"
    )

    print()
    print(title)
    print("\n".join(header))
    print()
    print(render_text(rows))
    print()
    print(summary)
    print()
    print("\n".join(notes), flush=True)

    markdown = [
        f"### {title}",
        "",
        *(f"{line}  " for line in header),
        "",
        render_markdown(rows),
        "",
        summary,
        "",
        "```text",
        *notes,
        "```",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(markdown), encoding="utf-8")
    print(f"\nwritten to {args.output}", file=sys.stderr)
    missed = [t for t in targets if not t.met]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
