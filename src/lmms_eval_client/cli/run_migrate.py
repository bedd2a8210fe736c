"""``lmms-eval-client runs migrate SOURCE TARGET``: a run's ledger copied into another
store, typically a SQLite file into a PostgreSQL schema (``_runs/ledger_copy.py``).

No server is needed: the source is only read, the target written in one transaction. The
output names both ledgers without a URL's password.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lmms_eval_client import InvalidArgumentError

from .._runs.ledger_copy import copy_ledger
from .output import print_json, print_lines
from .runs import ledger_exists, shown_ledger
from .server_commands import JsonFlag, examples


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
    json_out: JsonFlag = False,
) -> None:
    """Copy a run ledger into another store: every job (same seqs and keys), its history,
    what the sinks wrote; a run resumed on the copy goes on where the source stopped.

    The source is only read (stop the run writing it first); the target is created if
    missing and must hold no job: a ledger is never merged into another.
    """
    if not ledger_exists(source):
        raise InvalidArgumentError(f"there is no run ledger at {source!r}")
    copied = copy_ledger(source, target)
    shown_source, shown_target = shown_ledger(source), shown_ledger(target)
    if json_out:
        print_json({"copied": copied, "source": shown_source, "target": shown_target})
        return
    print_lines([f"copied {copied} jobs from {shown_source} to {shown_target}"])


def register(app: typer.Typer) -> None:
    """Add ``migrate`` to the ``runs`` sub-application."""
    app.command(
        "migrate",
        epilog=examples(
            "lmms-eval-client runs migrate evals.sqlite "
            "'postgresql://evals@db.internal/evals?schema=sweep'",
            "lmms-eval-client runs migrate 'postgresql://evals@db.internal/evals?schema=sweep' "
            "copy.sqlite --json",
        ),
    )(migrate)
