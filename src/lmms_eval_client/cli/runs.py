"""``lmms-eval-client runs ls|show``: what a run ledger (EvalRun's SQLite file or
PostgreSQL schema) holds.

Read from the ledger alone: no request is sent, so it works while the servers are away; the
ledger is opened read-only, so a ledger its user may only read (or on a read-only file
system) is listed too, and nothing is written beside it. ``ls --refresh`` polls first, and
the commands that drive a ledger (``runs submit|watch|export``) are in ``run_commands``.

Every LEDGER argument is a string, not a ``Path``: a PostgreSQL URL through ``Path`` loses
the ``//`` of ``postgresql://``. Its default is ``$LMMS_EVAL_LEDGER``.
"""

from __future__ import annotations

import json
import os
from contextlib import closing
from typing import Annotated

import typer

from lmms_eval_client import InvalidArgumentError, TrackedJob

from .._results.redaction import redacted_error
from .._runs.ledger import Ledger as RunLedger
from .._runs.postgres.url import is_database_url, parse_url
from .._text import failure_reason
from .output import as_json, print_fields, print_json, print_lines
from .run_view import labels_text
from .server_commands import JsonFlag, examples

LEDGER_ENV = "LMMS_EVAL_LEDGER"
LEDGER_HELP = (
    "The run's ledger: a SQLite file, or a PostgreSQL schema as "
    "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB?schema=RUN."
)
Ledger = Annotated[
    str,
    typer.Argument(help=LEDGER_HELP, envvar=LEDGER_ENV, show_default=False, show_envvar=True),
]


def shown_ledger(ledger: str) -> str:
    """The ledger as output may name it: a file as given, a URL with its password masked.

    Example::

        shown_ledger("postgresql://u:pw@db/evals?schema=sweep")  # 'postgresql://u:***@db/...'
    """
    return parse_url(ledger).shown if is_database_url(ledger) else ledger


def open_read_only(ledger: str | os.PathLike[str]) -> closing[RunLedger]:
    """An existing ledger, read-only (EvalRun would create a missing one, and write). One
    that is not there, a SQLite file (or its folder) or a PostgreSQL schema, is the
    Ledger's LedgerNotFoundError, "There is no run ledger at ..." (exit code 2), and
    nothing is created; what is there and no file (a folder, a FIFO) is named by its
    CorruptLedgerError (exit code 1).

    Example::

        with open_read_only("evals.sqlite") as read:
            jobs = read.jobs()
    """
    return closing(RunLedger(os.fspath(ledger), read_only=True))


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
        f"{labels_text(job.labels)}  {job.server}"
        for job in jobs
    )


def _ledger_and_seq(ledger: str, seq: int | None) -> tuple[str, int]:
    """``runs show LEDGER SEQ``, or ``runs show SEQ`` with ``$LMMS_EVAL_LEDGER`` set: click
    fills positional arguments in order, so a lone SEQ arrives as the LEDGER."""
    if seq is not None:
        return ledger, seq
    default = os.environ.get(LEDGER_ENV)
    if default and ledger.isdigit() and ledger != default:
        return default, int(ledger)
    raise InvalidArgumentError(
        "give the job's seq: runs show LEDGER SEQ (or runs show SEQ with $LMMS_EVAL_LEDGER set)"
    )


def show(
    ledger: Annotated[
        str,
        typer.Argument(
            help=f"{LEDGER_HELP} Left out (runs show SEQ): ${LEDGER_ENV}.",
            envvar=LEDGER_ENV,
            show_envvar=True,
            show_default=False,
        ),
    ],
    seq: Annotated[
        int | None,
        typer.Argument(help="The job's seq number in the ledger.", show_default=False),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Show one job of a run ledger: labels, request, last state, results summary."""
    target, number = _ledger_and_seq(ledger, seq)
    with open_read_only(target) as run:
        job = run.job(number)
    if json_out:
        print_json(as_json(job))
        return
    print_fields(
        [
            ("seq", str(job.seq)),
            ("job id", job.job_id or "-"),
            ("state", _status(job)),
            ("key", job.key or "-"),
            ("labels", labels_text(job.labels)),
            ("server", job.server),
            ("model", job.request.model),
            ("tasks", ", ".join(job.request.tasks)),
            ("attempt", f"{job.attempt} (first: seq {job.first_seq})"),
            ("note", job.note or "-"),
            ("error", failure_reason(error) if (error := _error(job)) else "-"),
            ("summary", json.dumps(job.summary) if job.summary is not None else "-"),
        ]
    )


def runs_app() -> typer.Typer:
    """The ``runs`` sub-application."""
    from .app import PathGroup  # (loaded: runs is a command of it)

    app = typer.Typer(
        cls=PathGroup,
        help="Evaluation runs: many labelled jobs tracked in a ledger (a SQLite file or a "
        "PostgreSQL schema).",
    )
    app.command(
        "ls",
        epilog=examples(
            "lmms-eval-client runs ls evals.sqlite",
            "lmms-eval-client runs ls evals.sqlite --refresh",
            "lmms-eval-client runs ls 'postgresql://evals@db.internal/evals?schema=sweep'",
        ),
    )(ls)
    app.command("show", epilog=examples("lmms-eval-client runs show evals.sqlite 3"))(show)
    from . import run_commands  # submit, watch, export: they drive the ledger through EvalRun

    run_commands.register(app)
    from . import run_migrate  # runs migrate: a ledger copied into another store

    run_migrate.register(app)
    from . import report_commands  # runs report: reads ledgers and results files

    report_commands.register_runs(app)
    return app


def _error(job: TrackedJob) -> str | None:
    """The job's error text as the ledger may show it (secrets masked); None: none."""
    return redacted_error(job.info) if job.info is not None else None
