"""A run moved: ``lmms-eval-client runs migrate SOURCE TARGET``, its ledger copied into
another store, typically a SQLite file into a PostgreSQL schema (``_runs/ledger_copy.py``);
``runs rehome LEDGER OLD NEW``, its jobs on a server that now answers at another address
(``EvalRun.rehome``).

No server is needed, nor any request sent: the source is only read, the target written
in one transaction. The output names ledgers and servers without a URL's password.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Annotated

import typer

from .._runs.ledger_copy import copy_ledger
from .._runs.servers import same_server
from .._text import without_userinfo
from .output import print_json, print_lines, warn
from .runs import Ledger, shown_ledger
from .server_commands import JsonFlag, examples

if TYPE_CHECKING:
    from pydantic import JsonValue


def migrate(
    source: Annotated[
        str,
        typer.Argument(
            help="The ledger to copy (only read): a SQLite file or a PostgreSQL URL.",
            show_default=False,
        ),
    ],
    target: Annotated[
        str,
        typer.Argument(
            help="Where to copy it (created if missing, must hold no job): a SQLite file, or "
            "a PostgreSQL schema as postgresql://USER[:PASSWORD]@HOST[:PORT]/DB?schema=RUN.",
            show_default=False,
        ),
    ],
    writers_stopped: Annotated[
        bool,
        typer.Option(
            "--writers-stopped",
            help="The processes that wrote SOURCE and cannot be checked from here (of other "
            "hosts; for a PostgreSQL ledger, of this host too) have stopped. One of this host "
            "holding a SQLite SOURCE open for writing is refused all the same.",
        ),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Copy a run ledger into another store: every job (same seqs and keys), its history,
    what the sinks wrote; a run resumed on the copy goes on where the source stopped.

    The source is only read; the target is created if missing and must hold no job: a
    ledger is never merged into another. Stop every process writing the source first: one
    of this host holding the SQLite file open for writing is refused (exit 2, named as
    pid@host, nothing copied); so are the writers the ledger names that cannot be checked
    from here (other hosts; for a PostgreSQL ledger, live processes of this host too)
    unless --writers-stopped says they stopped. A live one whose run is closed is warned
    of.
    """
    # (a source that is not there: the read-only open's LedgerNotFoundError, exit code 2,
    # raised before the target is opened: nothing is created)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        copied = copy_ledger(source, target, writers_stopped=writers_stopped)
    for warning in caught:  # (a live process of this host that wrote it, its run closed)
        warn(str(warning.message))
    shown_source, shown_target = shown_ledger(source), shown_ledger(target)
    if json_out:
        print_json({"copied": copied, "source": shown_source, "target": shown_target})
        return
    print_lines([f"copied {copied} jobs from {shown_source} to {shown_target}"])


def rehome(
    ctx: typer.Context,
    ledger: Ledger,
    old: Annotated[
        str,
        typer.Argument(
            help="The base URL the jobs were recorded on (the server runs ls shows).",
            show_default=False,
        ),
    ],
    new: Annotated[
        str, typer.Argument(help="The base URL the server answers at now.", show_default=False)
    ],
    json_out: JsonFlag = False,
) -> None:
    """Record that a run's jobs on server OLD live on server NEW (a server restarted on
    another port, another name for it): every job recorded on OLD is moved, the pending
    ones are polled on NEW from then on (one NEW does not know is lost, as after a
    restart). No request is sent; rehoming twice moves nothing more.
    """
    from .run_commands import open_run  # (EvalRun and the client: loaded to run this)

    with open_run(ctx, ledger, servers=(new,)) as (run, _):
        moved: list[JsonValue] = [job.seq for job in run.rehome(old, new)]
    old, new = without_userinfo(old), without_userinfo(new)
    if json_out:
        print_json({"moved": moved, "old": old, "new": new, "ledger": shown_ledger(ledger)})
    elif moved:
        print_lines([f"moved {len(moved)} job(s) (seq {' '.join(map(str, moved))}) to {new}"])
    elif same_server(old, new):  # (the jobs are there: "none recorded on OLD" was false)
        print_lines([f"{old} and {new} name one server: nothing moved"])
    else:
        print_lines([f"no job of {shown_ledger(ledger)} is recorded on {old}: nothing moved"])


def register(app: typer.Typer) -> None:
    """Add ``migrate`` and ``rehome`` to the ``runs`` sub-application."""
    app.command(
        "migrate",
        epilog=examples(
            "lmms-eval-client runs migrate evals.sqlite "
            "'postgresql://evals@db.internal/evals?schema=sweep'",
            "lmms-eval-client runs migrate 'postgresql://evals@db.internal/evals?schema=sweep' "
            "copy.sqlite --json --writers-stopped",
        ),
    )(migrate)
    app.command(
        "rehome",
        epilog=examples(
            "lmms-eval-client runs rehome evals.sqlite http://127.0.0.1:8000 http://127.0.0.1:8001",
        ),
    )(rehome)
