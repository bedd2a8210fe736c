"""``lmms-eval-client runs submit|watch|export`` and ``runs ls --refresh``: the command line
drives a run ledger (EvalRun's SQLite file or PostgreSQL schema), so a shell workflow keeps
no state of its own.

``submit`` and ``watch`` (and ``ls --refresh``) open the ledger through ``EvalRun`` with the
command line's client: what they learn is recorded (labels, keys, states, outcomes taken).
``export`` reads the ledger read-only, as ``ls`` does. Without ``--server`` (and without
``$LMMS_EVAL_BASE_URLS`` or ``$LMMS_EVAL_BASE_URL``), the servers are those the ledger's
jobs were sent to.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from lmms_eval_client import (
    EvalClient,
    EvalRun,
    LedgerError,
    LedgerFullError,
    ModelNameWarning,
    TrackedJob,
    UncoveredServersWarning,
)

from .._runs.ledger import Ledger as RunLedger
from .._runs.ledger_copy import shown_owner
from .._runs.ledger_keys import check_key
from .._runs.ledger_reads import owner_and_snapshot
from .._runs.options import RetryOnFailure, check_json_object
from .._runs.outage import PASSING
from .._runs.postgres.url import is_database_url
from .._runs.servers import covering, server_identity
from .._runs.states import SUBMITTING
from .connection import connect, server_given, settings_of
from .exit_codes import ExitCode
from .model_args import seconds
from .output import as_json, note, print_json, print_lines, show_warnings, warn
from .output import error as error_line
from .retry_options import MaxAttempts, RetryFailed, RetryLost, retry_policy
from .run_view import (
    JsonLines,
    LiveTable,
    labels_text,
    make_sink,
    resent_under_their_key,
    run_exit_code,
    watch_run,
)
from .runs import Ledger, open_read_only, shown_ledger
from .server_commands import JsonFlag, examples
from .submit_options import PollInterval, SubmissionOptions, submission_options


def _ledger_servers(ledger: str, *, create: bool) -> tuple[str, ...]:
    """The servers a ledger's jobs went to: the pending jobs' first, in order of seq, each
    once in its first spelling (``127.0.0.1`` and ``localhost``: one server, as the run
    matches them). Read read-only: without ``create``, a ledger that is not there is
    LedgerNotFoundError."""
    if is_database_url(ledger):
        # A schema cannot be looked for without connecting: with ``create`` it is opened
        # read-write, so a missing one is made now (as EvalRun would make it next).
        with closing(RunLedger(ledger, read_only=not create)) as opened:
            jobs = opened.jobs()
    elif create and not Path(ledger).is_file():
        return ()  # (a new ledger, made by EvalRun next: no job yet)
    else:
        with open_read_only(ledger) as read:
            jobs = read.jobs()
    ordered = [job.server for job in jobs if job.pending] + [job.server for job in jobs]
    spellings: dict[str, str] = {}  # (a pool refuses one server given twice)
    for server in ordered:
        spellings.setdefault(server_identity(server), server)
    return tuple(spellings.values())


@contextlib.contextmanager
def open_run(
    ctx: typer.Context,
    ledger: str,
    *,
    create: bool = False,
    output_root: str | None = None,
    servers: tuple[str, ...] = (),
    retry: RetryOnFailure | None = None,
) -> Iterator[tuple[EvalRun, tuple[str, ...]]]:
    """The ledger as an ``EvalRun`` over the command line's client (read-write), and the
    base URLs it reaches (as the ledger spells them); ``create``: a missing ledger is
    created (else it is LedgerNotFoundError, exit code 2, and nothing is created: the
    ledger is read read-only before the run opens it); ``servers``: the client's
    instead of the command line's (``runs rehome``: the server's new address); ``retry``:
    the run's policy (``--retry-lost``, ``--retry-failed``).

    Example::

        with open_run(ctx, "evals.sqlite") as (run, servers):
            run.ready()
    """
    settings = settings_of(ctx)
    if servers:
        settings = replace(settings, servers=servers)
    if not server_given(settings):
        settings = replace(settings, servers=_ledger_servers(ledger, create=create))
    elif not create:
        # EvalRun would create a missing ledger (a file or a schema): read-only first, so
        # that one not there is LedgerNotFoundError and nothing is created.
        with open_read_only(ledger):
            pass
    with connect(settings, output_root=output_root) as client:
        with warnings.catch_warnings():
            # Said in the CLI's words by _warn_unwatched: which --server to give.
            warnings.simplefilter("ignore", UncoveredServersWarning)
            opened = EvalRun(client, ledger, retry=retry)
        with opened as run:
            servers = (client.base_url,) if isinstance(client, EvalClient) else client.servers
            yield run, servers


def _warn_unwatched(run: EvalRun, servers: tuple[str, ...]) -> None:
    """Say which pending jobs no server given can poll: they are not watched."""
    away = [job for job in run.jobs() if job.pending and covering(servers, job.server) is None]
    if away:
        where = ", ".join(sorted({job.server for job in away}))
        seqs = " ".join(str(job.seq) for job in away)
        warn(
            f"{len(away)} pending job(s) (seq {seqs}) are on {where}, which no server given "
            "names (--server, $LMMS_EVAL_BASE_URLS, $LMMS_EVAL_BASE_URL): they are not "
            "polled (give --server for each; a server that moved: "
            f"lmms-eval-client runs rehome {run.ledger_path} OLD NEW)"
        )


def refresh(ctx: typer.Context, ledger: str) -> None:
    """Poll the run's servers once and record what changed (``runs ls --refresh``)."""
    show_warnings(ctx)  # a server that cannot be reached
    with open_run(ctx, ledger) as (run, servers):
        _warn_unwatched(run, servers)
        run.ready()  # one poll; the outcomes are left for whoever harvests them


@submission_options()
def submit(
    ctx: typer.Context,
    ledger: Ledger,
    submission: SubmissionOptions,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            "-k",
            help="The submission's key, e.g. step-100: a key the ledger already holds is "
            "not sent again (the job tracked under it is shown), so a script can be rerun.",
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            "-l",
            help="key=value label, repeatable (or k=v,k2=v2; quote a value holding a comma: "
            'n="a,b"): recorded with the job in the ledger (runs ls, runs export show '
            "them); not sent to the server.",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the job id on stdout.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Submit an evaluation job into a run ledger, with its labels and key recorded.

    The ledger is created if missing. Every option of ``submit``; with --key, a key the
    ledger already holds sends nothing and shows the job tracked under it (one another
    process is still sending: its job id, waited for up to 2 minutes, else exit 4).
    """
    parsed = submission.parse(label)
    check_key(key)  # before the ledger is created (the run checks it again)
    check_json_object("labels", parsed.labels)
    # The key only when given: a run without keys is submitted as EvalRun always did.
    keyed: dict[str, Any] = {} if key is None else {"key": key}
    with open_run(ctx, ledger, create=True, output_root=submission.output_root) as (run, _):

        def send() -> TrackedJob:  # (again: a key another process is sending, settled)
            return run.submit(
                parsed.model, parsed.tasks, parsed.model_args, **parsed.options,
                labels=parsed.labels, **keyed,
            )  # fmt: skip

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ModelNameWarning)
            try:
                job = _answered(run, send(), send)
            except WORTH_THE_WAIT as exc:
                job = _record_accepted(run, exc)
            except KeyboardInterrupt:
                note(
                    "Interrupted while submitting: if the ledger recorded the submission, "
                    f"lmms-eval-client runs ls {shown_ledger(ledger)} --refresh settles it "
                    "(nothing is sent twice)"
                )
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        for message in dict.fromkeys(str(warning.message) for warning in caught):
            warn(message)
        # Not read before: another process may have submitted under the key in between.
        known = key is not None and not run._recorded_here(job)
    if json_out:
        print_json({**as_json(job), "submitted": not known})
    elif quiet:
        print_lines([job.job_id or "-"])
    elif known:
        print_lines([f"already submitted under key {key}: seq {job.seq} ({job.state}), not sent"])
    else:
        shown = (f"key {key}, " if key else "") + f"labels {labels_text(job.labels)}"
        print_lines(
            [f"submitted seq {job.seq}: job {job.job_id} ({job.state}) to {job.server}; {shown}"]
        )


# How long `runs submit` waits for its ledger to record a job the server accepted (the
# database restarting, a lock held long): a run reopened later may not tell which job was
# its own once the job has finished, so the answer the process holds is worth the wait.
RECORD_PATIENCE = 120.0
# What the ledger may get over meanwhile: the database back, the lock freed, space freed.
WORTH_THE_WAIT: tuple[type[LedgerError], ...] = (*PASSING, LedgerFullError)  # (space freed)
_sleep = time.sleep  # (replaced in tests)
# How long `runs submit --key K` waits for another process sending K to record the server's
# answer (a request's timeout, a reconciliation): a script reads the id (`wait "$JOB"`).
KEY_PATIENCE = 120.0


def _answered(run: EvalRun, job: TrackedJob, send: Callable[[], TrackedJob]) -> TrackedJob:
    """The job under the key once the process sending it recorded its job id, polled at
    most KEY_PATIENCE seconds (``send`` again: one that died is settled, or its job sent
    here); exit 4 (still sent) or 8 (it ended without an id), saying so, else."""
    if job.job_id is not None or job.state != SUBMITTING or run._recorded_here(job):
        return job
    found = owner_and_snapshot(run._ledger, job.seq)
    sender = f"process {shown_owner(found[0])}" if found and found[0] else "another process"
    note(f"Job seq {job.seq} under key {job.key} is being sent by {sender}: waiting up to "
         f"{KEY_PATIENCE:g} s for its job id")  # fmt: skip
    deadline, pause = time.monotonic() + KEY_PATIENCE, 0.2
    while job.job_id is None and job.state == SUBMITTING and time.monotonic() < deadline:
        _sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 5.0)
        job = send()
    if job.job_id is None:
        still = job.state == SUBMITTING
        error_line(f"Job seq {job.seq} under key {job.key} " + (
            f"is still being sent by {sender}, no job id after {KEY_PATIENCE:g} s: run the "
            "same command again to get it (nothing is sent twice)" if still else
            f"ended {job.state} without a job id: {job.note or 'its sender could not tell'}"
        ))  # fmt: skip
        raise typer.Exit(int(ExitCode.TIMEOUT if still else ExitCode.LOST))
    return job


def _record_accepted(run: EvalRun, error: LedgerError) -> TrackedJob:
    """The job the server accepted, recorded once the ledger can be written again (at
    most RECORD_PATIENCE seconds); else ``error``, raised."""
    job_id = getattr(error, "job_id", None)
    if job_id is None:  # nothing was sent: nothing to wait for
        raise error
    note(f"The server accepted job {job_id}; its ledger cannot record it yet ({error}): "
         f"waiting up to {RECORD_PATIENCE:g} s")  # fmt: skip
    deadline, pause = time.monotonic() + RECORD_PATIENCE, 0.5
    while time.monotonic() < deadline:
        try:
            _sleep(min(pause, max(0.0, deadline - time.monotonic())))
        except KeyboardInterrupt:
            note(f"Interrupted: job {job_id} is on its server, unrecorded; a run reopened on "
                 "this ledger reconciles it (do not submit it again)")  # fmt: skip
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        pause = min(pause * 2, 10.0)
        try:
            run._poller.record_answers()
            recorded = next((job for job in run.jobs() if job.job_id == job_id), None)
        except WORTH_THE_WAIT:
            continue
        if recorded is not None:
            return recorded
    note(f"Job {job_id} is on its server, not in the ledger: follow it with "
         f"lmms-eval-client wait {job_id} (the same --server as this command)")  # fmt: skip
    raise error


def watch(
    ctx: typer.Context,
    ledger: Ledger,
    timeout: Annotated[
        float | None,
        typer.Option(
            callback=seconds("--timeout", zero=True),
            help="Seconds to watch at most (0: poll once); then exit 4, the jobs go on.",
        ),
    ] = None,
    poll_interval: PollInterval = 2.0,
    harvest: Annotated[
        bool,
        typer.Option(
            "--harvest/--no-harvest",
            help="Take the outcomes (harvest: a program harvesting the same ledger does not "
            "get them again), or only show them.",
        ),
    ] = True,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="One line per change instead of the table.")
    ] = False,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per line (for scripts): each state change, each outcome, "
            "then the end with the exit code.",
        ),
    ] = False,
    retry_lost: RetryLost = False,
    retry_failed: RetryFailed = None,
    max_attempts: MaxAttempts = None,
) -> None:
    """Watch a run ledger: poll its servers, harvest outcomes, until nothing is pending.

    A live table in a terminal (one line per change otherwise; --json: JSON lines). Exits
    with the run's state: 0 every job completed, 8 one was lost, 1 one failed (or was never
    sent), 3 one was cancelled, 4 jobs still pending (--timeout, or on servers not given);
    the most severe first. Ctrl+C stops watching without cancelling (130).
    """
    retry = retry_policy(retry_lost, retry_failed, max_attempts)
    sink = make_sink(shown_ledger(ledger), json_out=json_out, quiet=quiet)
    show_warnings(ctx)  # a server that cannot be reached (above a live table)
    with open_run(ctx, ledger, retry=retry) as (run, servers):
        _warn_unwatched(run, servers)
        try:
            with sink if isinstance(sink, LiveTable) else contextlib.nullcontext():
                jobs = watch_run(
                    run,
                    servers,
                    sink,
                    poll_interval=poll_interval,
                    timeout=timeout,
                    harvest=harvest,
                )
        except KeyboardInterrupt:
            note(
                "Stopped watching (Ctrl+C); the jobs go on on their servers. Watch again: "
                f"lmms-eval-client runs watch {shown_ledger(ledger)}"
            )
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        resent = resent_under_their_key(run, jobs)
    code = run_exit_code(jobs, resent)
    pending = sum(1 for job in jobs if job.pending)
    if isinstance(sink, JsonLines):
        sink.end(code, pending)
    elif pending:
        note(f"{pending} job(s) still pending: they go on; watch again to follow them")
    raise typer.Exit(int(code))


def register(app: typer.Typer) -> None:
    """Add these commands to the ``runs`` sub-application."""
    app.command(
        "submit",
        epilog=examples(
            "lmms-eval-client runs submit evals.sqlite -m qwen2_vl -t mme "
            "-a pretrained=ckpt/step-100 --key step-100 --label step=100",
        ),
    )(submit)
    app.command(
        "watch",
        epilog=examples(
            "lmms-eval-client runs watch evals.sqlite",
            "lmms-eval-client runs watch evals.sqlite --json --timeout 3600",
            "lmms-eval-client runs watch evals.sqlite --retry-lost --retry-failed 'out of memory'",
        ),
    )(watch)
    from .run_export import export

    app.command(
        "export",
        epilog=examples(
            "lmms-eval-client runs export evals.sqlite --csv > metrics.csv",
            "lmms-eval-client runs export evals.sqlite --json --task mme --metric exact_match",
            "lmms-eval-client runs export evals.sqlite --to tensorboard --log-dir runs/evals",
            "lmms-eval-client runs export evals.sqlite --to mlflow "
            "--tracking-uri http://127.0.0.1:5000 --experiment evals --run-name sft-1",
            "WANDB_MODE=offline lmms-eval-client runs export evals.sqlite --to wandb --project sft",
        ),
    )(export)
