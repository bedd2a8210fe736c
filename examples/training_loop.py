"""lmms-eval's training-loop pattern with EvalRun: ``make demo-runs`` runs it.

lmms-eval's guide: "never block the trainer on eval submission; submit jobs during
training, then harvest ready results opportunistically; track (epoch, checkpoint, job_id)".
Here the tracking is an EvalRun and its ledger file: kill this script at any point and run
it again with the same ``--ledger``: it resumes (no job lost, none submitted twice). Each
epoch's evaluation is submitted under a key (``epoch-3``): one already tracked under its key
is returned, not sent again, so the script keeps no list of its own.

Which server: ``LMMS_EVAL_BASE_URL`` if set (point ``--pretrained`` at real checkpoints
there); else a local lmms-eval-compatible server started in this process (simulated jobs
of ``--job-duration`` seconds; epoch 1 fails with a simulated "CUDA out of memory", which
the run's retry policy submits once more: the simulation fails it again, deterministic).
That server is a new one, on a new port, each time the script runs: the jobs the ledger
holds on the previous one are moved to it (``run.rehome``), where those it never had end
``lost``.

Each completed evaluation's metrics are written to TensorBoard at its epoch (a
``TensorBoardSink`` of the run, ``--tensorboard DIR``, by default ``tensorboard/`` beside
the ledger): ``tensorboard --logdir DIR`` shows them. A resumed script writes none twice.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lmms_eval_client import (
    EvalClient,
    EvalRun,
    JobCompleted,
    JobFailed,
    JobLost,
    LmmsEvalError,
    RetryOnFailure,
    TensorBoardSink,
    UncoveredServersWarning,
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--ledger", type=Path, help="the run's ledger (default: a temp file)")
    parser.add_argument("--model", default="qwen2_vl")
    parser.add_argument("--pretrained", default="Qwen/Qwen2-VL-2B-Instruct")
    parser.add_argument("--tasks", default="mme,pope")
    parser.add_argument("--job-duration", type=float, default=0.5, help="local server only")
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="TensorBoard's log dir for the metrics (default: tensorboard/ beside the ledger)",
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def server_url(job_duration: float) -> Iterator[tuple[str, bool]]:
    remote = os.environ.get("LMMS_EVAL_BASE_URL")
    if remote:
        yield remote, False
        return
    from lmms_eval_client.testing import LocalServer, LocalServerConfig

    with tempfile.TemporaryDirectory(prefix="training-loop-") as root:
        config = LocalServerConfig(job_duration=job_duration, temp_dir_root=root)
        with LocalServer(config) as server:
            print(f"Started a local lmms-eval-compatible server at {server.url}")
            yield server.url, True


def train_one_epoch(epoch: int) -> str:
    time.sleep(0.3)  # the trainer's work
    return f"checkpoints/epoch-{epoch}"


def report(outcomes: list[Any]) -> None:
    for outcome in outcomes:
        epoch = outcome.labels["epoch"]
        if isinstance(outcome, JobCompleted):
            files = outcome.info.result or {}
            print(f"  epoch {epoch}: completed, results {[f.results for f in files.values()]}")
        elif isinstance(outcome, JobFailed):
            print(f"  epoch {epoch}: failed after {outcome.job.attempt} attempts: {outcome.reason}")
        elif isinstance(outcome, JobLost):
            print(f"  epoch {epoch}: lost ({outcome.why})")
        else:
            print(f"  epoch {epoch}: {outcome.kind}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ledger = args.ledger or Path(tempfile.mkdtemp(prefix="evals-")) / "evals.sqlite"
    log_dir = args.tensorboard or ledger.parent / "tensorboard"
    with server_url(args.job_duration) as (url, local), EvalClient(url) as client:
        retry = RetryOnFailure("CUDA out of memory", max_attempts=2)
        # Each completed job's metrics, at its epoch (the label the sink reads the step from).
        tensorboard = TensorBoardSink(log_dir, step_label="epoch")
        with warnings.catch_warnings():
            if local:  # its jobs on the last local server are moved below: no need to warn
                warnings.simplefilter("ignore", UncoveredServersWarning)
            run = EvalRun(client, ledger, poll_interval=0.2, retry=retry, sinks=[tensorboard])
        with run, tensorboard:
            if local:
                for old in sorted({job.server for job in run.jobs()} - {client.base_url}):
                    print(f"moved {len(run.rehome(old, client.base_url))} jobs from {old}")
            earlier = {job.seq for job in run.jobs()}
            for epoch in range(args.epochs):
                checkpoint = train_one_epoch(epoch)
                model_args: dict[str, Any] = {"pretrained": args.pretrained}
                if local:
                    model_args["checkpoint"] = checkpoint  # a real run points pretrained= at it
                    if epoch % 3 == 1:
                        model_args["sim_error"] = "torch.OutOfMemoryError: CUDA out of memory"
                job = run.submit(
                    args.model, args.tasks.split(","), model_args=model_args, limit=8,
                    labels={"epoch": epoch, "checkpoint": checkpoint}, key=f"epoch-{epoch}",
                )  # fmt: skip
                how = "already tracked" if job.seq in earlier else "submitted"
                print(f"epoch {epoch}: {how}: job {job.job_id} (seq {job.seq}, {job.state})")
                report(run.harvest())  # never blocks the trainer
            print("training done; waiting for the remaining evaluations")
            report(list(run.as_completed(timeout=600)))
            print(f"ledger: {ledger} ({len(run.jobs())} submissions recorded)")
            print(f"metrics in TensorBoard: tensorboard --logdir {log_dir}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LmmsEvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
