"""``lmms-eval-client watch DIR``: submit each checkpoint a trainer writes into DIR, once.

A ``CheckpointWatcher`` over the run ledger ``--ledger`` (created if missing): the ledger
remembers what was submitted (one key per checkpoint), so the command can be stopped
(Ctrl+C: exit 130, the jobs go on) and started again without submitting anything twice.
It prints one line per submission and per outcome (``--json``: JSON lines).
"""

from __future__ import annotations

import contextlib
import enum
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from .._exceptions import InvalidArgumentError
from .._runs.outcomes import JobOutcome, TrackedJob
from .._watch.checkpoint import check_folder, check_key_prefix, check_pattern
from .._watch.readiness import MarkerFile, ReadinessRule, StableSize
from .._watch.reporting import metric_values
from .._watch.submission import CheckpointSubmission
from .._watch.wake import check_wake
from .._watch.watcher import CheckpointWatcher
from .exit_codes import ExitCode
from .model_args import seconds
from .output import note, print_json_line, print_lines, show_warnings
from .retry_options import MaxAttempts, RetryFailed, RetryLost, retry_policy
from .run_commands import open_run
from .runs import LEDGER_ENV, shown_ledger
from .server_commands import examples
from .submit_options import PollInterval, SubmissionOptions, submission_options


class WakeChoice(str, enum.Enum):
    """``--wake``: what ends a wait between scans early (CheckpointWatcher's ``wake``)."""

    auto = "auto"
    events = "events"
    poll = "poll"


@submission_options(output_dir=False)
def watch(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(help="The folder the trainer writes checkpoints into.", show_default=False),
    ],
    ledger: Annotated[
        str,
        typer.Option(
            "--ledger",
            help="The run ledger (created if missing): a SQLite file, or a PostgreSQL schema "
            "as postgresql://USER[:PASSWORD]@HOST[:PORT]/DB?schema=RUN. It holds what was "
            "submitted, so a restarted watch submits nothing twice.",
            envvar=LEDGER_ENV,
            show_envvar=True,
            show_default=False,
        ),
    ],
    submission: SubmissionOptions,
    pattern: Annotated[
        str, typer.Option("--pattern", help="Which folders are checkpoints (fnmatch).")
    ] = "checkpoint-*",
    marker: Annotated[
        str | None,
        typer.Option(
            "--marker",
            help="A checkpoint is complete once it holds this file (HF's Trainer writes "
            "trainer_state.json last)  [default: trainer_state.json]",
            show_default=False,
        ),
    ] = None,
    stable_seconds: Annotated[
        float | None,
        typer.Option(
            "--stable-seconds",
            callback=seconds("--stable-seconds", zero=True),
            help="Instead of --marker: a checkpoint is complete once its files stayed "
            "unchanged (size, mtime) for this many seconds.",
            show_default=False,
        ),
    ] = None,
    every: Annotated[
        int, typer.Option("--every", min=1, help="Submit every k-th checkpoint (by step).")
    ] = 1,
    max_pending: Annotated[
        int | None,
        typer.Option(
            "--max-pending",
            min=1,
            help="At most this many jobs queued or running at once; later checkpoints wait.",
            show_default=False,
        ),
    ] = None,
    key_prefix: Annotated[
        str,
        typer.Option(
            "--key-prefix", help="Put before each checkpoint's name to make its key in the ledger."
        ),
    ] = "",
    poll_interval: PollInterval = 10.0,
    wake: Annotated[
        WakeChoice,
        typer.Option(
            "--wake",
            help="auto: scan as soon as something changes in the folder when watchfiles is "
            "installed (pip install 'lmms-eval-client[watch]') and the folder is on a local "
            "file system, else poll; events: change events wherever the OS gives them; "
            "poll: every --poll-interval only. Polling goes on as the backstop in all cases.",
        ),
    ] = WakeChoice.auto,
    json_out: Annotated[
        bool,
        typer.Option("--json", help="One JSON object per line: each submission, each outcome."),
    ] = False,
    retry_lost: RetryLost = False,
    retry_failed: RetryFailed = None,
    max_attempts: MaxAttempts = None,
) -> None:
    """Watch a folder and submit each complete checkpoint a trainer writes into it, once.

    "{checkpoint}" in --model-args becomes the checkpoint's path (as the server sees it,
    through $LMMS_EVAL_PATH_MAP). Runs until Ctrl+C, which stops watching, never the jobs
    (exit 130); started again on the same --ledger, it submits nothing twice.
    """
    parsed = submission.parse(label=None)
    what = CheckpointSubmission(
        model=parsed.model,
        tasks=parsed.tasks,
        model_args=parsed.model_args or {"pretrained": "{checkpoint}"},
        options={name: value for name, value in parsed.options.items() if name != "output_dir"},
    )
    if marker is not None and stable_seconds is not None:
        raise InvalidArgumentError(
            "a checkpoint is complete by --marker or --stable-seconds: give one of them"
        )
    ready: ReadinessRule = (
        MarkerFile("trainer_state.json" if marker is None else marker)
        if stable_seconds is None
        else StableSize(seconds=stable_seconds)
    )
    # Bad input is refused before the ledger is created (the watcher checks them again).
    check_folder(directory)
    check_pattern(pattern)
    check_key_prefix(key_prefix)
    check_wake(wake.value)
    retry = retry_policy(retry_lost, retry_failed, max_attempts)
    show_warnings(ctx)  # a checkpoint skipped, the server down
    opening = open_run(ctx, ledger, create=True, output_root=submission.output_root, retry=retry)
    with opening as (run, _):
        watcher = CheckpointWatcher(
            run, directory, submit=what, pattern=pattern, ready=ready, every=every,
            max_pending=max_pending, key_prefix=key_prefix, poll_interval=poll_interval,
            wake=wake.value,
        )  # fmt: skip
        how = "on changes, polling every" if watcher.wake_mode == "events" else "polling every"
        note(
            f"Watching {directory} for {pattern} ({how} {poll_interval:g} s; Ctrl+C stops "
            "watching, the jobs go on)"
        )
        stop = threading.Event()
        try:
            with _stopped_by_signals(stop, lambda: bool(run._poller._in_flight)):
                watcher.run(
                    stop,
                    on_submitted=lambda job: _show_job(job, json_out),
                    on_outcome=lambda outcome: _show_outcome(outcome, json_out),
                )
        except KeyboardInterrupt:
            pass
        note(
            "Stopped watching (interrupted); the jobs go on on their servers. Watch again "
            f"(nothing is submitted twice), or follow them: lmms-eval-client runs watch "
            f"{shown_ledger(ledger)}"
        )
        raise typer.Exit(int(ExitCode.INTERRUPTED))


@contextlib.contextmanager
def _stopped_by_signals(
    stop: threading.Event, submitting: Callable[[], bool] = lambda: True
) -> Iterator[None]:
    """Ctrl+C and SIGTERM (Slurm's preemption) stop the watch at once, unless a submission
    is in flight (``submitting``): then they set ``stop``, and the watch ends once its
    answer is recorded. Cut in the middle, a submission whose request reached the server
    could only be settled as lost later, its checkpoint never evaluated. A second signal
    stops at once. (A poll is cut: a server that stopped answering held the first signal
    for its timeouts and retries, minutes, where Slurm kills after 30 s.)"""

    def first_then_now(signum: int, frame: object) -> None:
        if stop.is_set() or not submitting():
            raise KeyboardInterrupt
        stop.set()
        note("Stopping after the submission in flight; again to stop at once")

    if threading.current_thread() is not threading.main_thread():
        yield  # (run in a worker thread: signals reach the main thread only)
        return
    caught = (signal.SIGINT, signal.SIGTERM)
    kept = {sig: signal.getsignal(sig) for sig in caught}
    for sig in caught:
        if kept[sig] is not signal.SIG_IGN:  # (ignored: kept so)
            signal.signal(sig, first_then_now)
    try:
        yield
    finally:
        for sig, handler in kept.items():
            if handler is not None:  # (None: not set from Python, nothing to put back)
                signal.signal(sig, handler)


def _show_job(job: TrackedJob, json_out: bool) -> None:
    step = job.labels.get("step")
    if json_out:
        print_json_line(
            {"event": "submitted", "key": job.key, "step": step, "seq": job.seq,
             "job_id": job.job_id, "state": job.state, "server": job.server,
             "attempt": job.attempt, "retry_of": job.retry_of}
        )  # fmt: skip
        return
    again = "" if job.retry_of is None else f" (attempt {job.attempt}, after seq {job.retry_of})"
    print_lines([f"submitted {job.key} (step {step}): seq {job.seq}, job {job.job_id}{again}"])


def _show_outcome(outcome: JobOutcome, json_out: bool) -> None:
    job = outcome.job
    step = job.labels.get("step")
    values = metric_values(job)
    if json_out:
        print_json_line(
            {"event": "outcome", "kind": outcome.kind, "key": job.key, "step": step,
             "seq": job.seq, "job_id": job.job_id, "metrics": dict(values.items())}
        )  # fmt: skip
        return
    shown = " ".join(f"{name}={value}" for name, value in values.items())
    print_lines([f"{outcome.kind} {job.key} (step {step}){': ' + shown if shown else ''}"])


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the application."""
    app.command(
        "watch",
        epilog=examples(
            "lmms-eval-client watch out/ --ledger evals.sqlite -m hf -t mme "
            "-a pretrained={checkpoint}",
            "lmms-eval-client watch out/ --ledger evals.sqlite -m hf -t mme "
            "-a pretrained={checkpoint} --every 2 --max-pending 4 --json",
            "lmms-eval-client watch out/ --ledger evals.sqlite -m hf -t mme "
            "-a pretrained={checkpoint} --retry-lost",
        ),
    )(watch)
