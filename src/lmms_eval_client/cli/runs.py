"""``lmms-eval-client runs ls|show``: what a run ledger (EvalRun's SQLite file) holds.

Read from the ledger alone: no request is sent, so it works while the servers are away; the
ledger is opened read-only, so a ledger its user may only read (or on a read-only file
system) is listed too, and nothing is written beside it. ``ls --refresh`` polls first, and
the commands that drive a ledger (``runs submit|watch|export``) are in ``run_commands``.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from lmms_eval_client import InvalidArgumentError, TrackedJob

from .._runs.ledger import Ledger as RunLedger
from .output import as_json, print_fields, print_json, print_lines
from .server_commands import JsonFlag, examples

Ledger = Annotated[Path, typer.Argument(help="The run's ledger file (SQLite).", show_default=False)]


def open_read_only(ledger: Path) -> closing[RunLedger]:
    """An existing ledger, read-only (EvalRun would create a missing one, and write)."""
    if not ledger.is_file():
        raise InvalidArgumentError(f"there is no run ledger at {str(ledger)!r}")
    return closing(RunLedger(ledger, read_only=True))


def _labels(job: TrackedJob) -> str:
    return ",".join(f"{key}={value}" for key, value in job.labels.items()) or "-"


def _status(job: TrackedJob) -> str:
    return job.state if job.last_known_state is None else f"{job.state} ({job.last_known_state})"


def ls(
    ctx: typer.Context,
    ledger: Ledger,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="First poll the run's servers once and record what changed in the ledger "
            "(which is then written: without --refresh it is only read).",
        ),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """List the jobs of a run ledger: seq, key, labels, state, job id, server."""
    if refresh:
        from .run_commands import refresh as poll_once  # EvalRun and a client: only here

        poll_once(ctx, ledger)
    with open_read_only(ledger) as run:
        jobs = run.jobs()
    if json_out:
        print_json([as_json(job) for job in jobs])
        return
    print_lines(
        f"{job.seq:>4}  {_status(job):<22} {job.job_id or '-':<36}  {job.key or '-'}  "
        f"{_labels(job)}  {job.server}"
        for job in jobs
    )


def show(
    ledger: Ledger,
    seq: Annotated[int, typer.Argument(help="The job's seq number in the ledger.")],
    json_out: JsonFlag = False,
) -> None:
    """Show one job of a run ledger: labels, request, last state, results summary."""
    with open_read_only(ledger) as run:
        job = run.job(seq)
    if json_out:
        print_json(as_json(job))
        return
    print_fields(
        [
            ("seq", str(job.seq)),
            ("job id", job.job_id or "-"),
            ("state", _status(job)),
            ("key", job.key or "-"),
            ("labels", _labels(job)),
            ("server", job.server),
            ("model", job.request.model),
            ("tasks", ", ".join(job.request.tasks)),
            ("attempt", f"{job.attempt} (first: seq {job.first_seq})"),
            ("note", job.note or "-"),
            ("error", (job.info.error or "-").strip().splitlines()[-1] if job.info else "-"),
            ("summary", json.dumps(job.summary) if job.summary is not None else "-"),
        ]
    )


def runs_app() -> typer.Typer:
    """The ``runs`` sub-application."""
    app = typer.Typer(help="Evaluation runs: many labelled jobs tracked in a ledger file.")
    app.command(
        "ls",
        epilog=examples(
            "lmms-eval-client runs ls evals.sqlite",
            "lmms-eval-client runs ls evals.sqlite --refresh",
        ),
    )(ls)
    app.command("show", epilog=examples("lmms-eval-client runs show evals.sqlite 3"))(show)
    from . import run_commands  # submit, watch, export: they drive the ledger through EvalRun

    run_commands.register(app)
    from . import report_commands  # runs report: reads ledgers and results files

    report_commands.register_runs(app)
    return app
