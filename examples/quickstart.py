"""A tour of lmms-eval-client over real HTTP: ``make demo`` runs it.

Checks the server's health, lists its models, submits two evaluation jobs, shows the
queue, cancels the queued job, waits for the other one showing its progress, then prints
the result files and the per-task metrics.

Which server:

* ``LMMS_EVAL_BASE_URL`` set (e.g. ``http://gpu-box:8000``): that lmms-eval server. The
  jobs evaluate for real there (``--model``, ``--pretrained``, ``--tasks``, ``--limit``).
* unset: a local lmms-eval-compatible server (``lmms_eval_client.testing.LocalServer``)
  started in this process on a free loopback port, whose jobs are simulated for
  ``--job-duration`` seconds, and stopped at the end.

Exits 0 when the tour ran, also when the server failed the job (it says so, with the
server's reason); 1 when the server could not be used at all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

from lmms_eval_client import (
    BadRequestError,
    EvalClient,
    JobCancelledError,
    JobFailedError,
    JobInfo,
    LmmsEvalError,
    ResultsError,
    WaitTimeoutError,
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2_vl", help="lmms-eval model type")
    parser.add_argument(
        "--pretrained", default="Qwen/Qwen2-VL-2B-Instruct", help="model_args pretrained="
    )
    parser.add_argument("--tasks", default="mme,pope", help="comma-separated task names")
    parser.add_argument("--limit", type=float, default=8, help="documents per task")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="longest wait for the job, in seconds"
    )
    parser.add_argument(
        "--job-duration",
        type=float,
        default=3.0,
        help="seconds a simulated job runs on the local server (default: 3)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the local server's result files")
    return parser.parse_args(argv)


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


@contextlib.contextmanager
def local_server(job_duration: float, keep: bool) -> Iterator[str]:
    """A local lmms-eval-compatible server in this process; its URL. Stopped on exit."""
    from lmms_eval_client.testing import LocalServer, LocalServerConfig

    if keep:
        root = tempfile.mkdtemp(prefix="lmms-eval-demo-")
        files: contextlib.AbstractContextManager[str] = contextlib.nullcontext(root)
    else:
        files = tempfile.TemporaryDirectory(prefix="lmms-eval-demo-")
    with (
        files as root,
        LocalServer(LocalServerConfig(job_duration=job_duration, temp_dir_root=root)) as server,
    ):
        print(f"Started a local lmms-eval-compatible server at {server.url}")
        print(f"(simulated jobs of {job_duration:g} s; result files under {root})")
        yield server.url
        print(f"\nStopping the local server at {server.url}")
    print(
        f"Result files kept under {root}"
        if keep
        else "Its result files were removed (--keep keeps them)."
    )


def first_and_last_lines(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) <= 2:
        return "\n".join(lines)
    return f"{lines[0]}\n  ...\n{lines[-1]}"


def show_results(client: EvalClient, job: JobInfo, simulated: bool) -> None:
    heading("Result files (on the server's disk)")
    for model_name, files in (job.result or {}).items():
        print(f"{model_name}:")
        print(f"  results: {files.results}")
        for sample in files.samples:
            print(f"  samples: {sample}")

    heading("Metrics")
    try:
        by_model = client.load_all_results(job)
    except ResultsError as exc:  # e.g. the files are on another machine's disk
        print(f"The results cannot be read from here: {exc}")
        return
    note = " (simulated scores: the local server runs no model)" if simulated else ""
    for model_name, results in by_model.items():
        print(f"model: {model_name}{note}")
        print(results.table())


def tour(base_url: str, args: argparse.Namespace, simulated: bool = False) -> int:
    tasks = [task.strip() for task in args.tasks.split(",") if task.strip()]
    limit: int | float = int(args.limit) if args.limit == int(args.limit) else args.limit
    with EvalClient(base_url) as client:
        heading(f"Health of {base_url}")
        health = client.health()
        print(f"status: {health.status}, jobs in its queue: {health.queue_size}")

        heading("Models")
        models = client.list_models()
        print(f"{len(models)} model types, e.g. {', '.join(models[:6])}")

        heading("Submitting two jobs")
        request: dict[str, Any] = {
            "model": args.model,
            "tasks": tasks,
            "model_args": {"pretrained": args.pretrained},
            "limit": limit,
        }
        kept = client.evaluate(**request)
        print(f"job {kept.job_id}: {kept.status}, position {kept.position_in_queue}")
        extra = client.evaluate(**request)
        print(f"job {extra.job_id}: {extra.status}, position {extra.position_in_queue}")
        print("(a position counts the jobs waiting before it; the running job is not counted)")

        heading("Queue")
        queue = client.get_queue_status()
        print(f"running: {queue.running_job}")
        print(f"queued:  {', '.join(queue.queued_jobs) or '(none)'}")
        print(f"finished so far: {queue.completed_jobs} completed, {queue.failed_jobs} failed")

        heading(f"Cancelling job {extra.job_id}")
        try:
            print(client.cancel_job(extra.job_id).message)
        except BadRequestError as exc:  # it already started (or ended): only queued jobs go
            print(f"not cancelled: {exc.detail}")

        heading(f"Waiting for job {kept.job_id}")
        started = time.monotonic()
        try:
            done = client.wait_for_job(
                kept.job_id, poll_interval=0.5, timeout=args.timeout, verbose=True
            )
        except JobFailedError as exc:
            print(f"\nThe job FAILED on the server after {time.monotonic() - started:.1f} s.")
            print("Its error (first and last lines):")
            print(first_and_last_lines(exc.error or "(no error text)"))
            print(
                "\nThe SDK did its part; the server could not run the evaluation (its reason "
                "is above). A real lmms-eval server installed without its ML stack, as "
                "`make install` does, fails every job this way."
            )
            return 0
        except JobCancelledError:
            print("\nThe job was cancelled on the server by someone else.")
            return 0
        except WaitTimeoutError as exc:
            status = exc.job.status if exc.job else "unknown"
            print(f"\nStill {status} after {args.timeout:g} s; it goes on on the server.")
            return 0
        print(f"finished in {time.monotonic() - started:.1f} s")
        show_results(client, done, simulated)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    remote = os.environ.get("LMMS_EVAL_BASE_URL")
    try:
        if remote:
            print(f"Using the lmms-eval server at {remote} (LMMS_EVAL_BASE_URL)")
            return tour(remote, args)
        with local_server(args.job_duration, args.keep) as url:
            return tour(url, args, simulated=True)
    except LmmsEvalError as exc:
        print(f"\nThe demo could not use the server: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
