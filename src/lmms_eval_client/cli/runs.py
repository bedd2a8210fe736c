"""``lmms-eval-client runs ls|show``: the run ledger (issue 12), once the SDK has ``EvalRun``.

The sub-application is registered only when ``from lmms_eval_client import EvalRun`` works,
so this branch's command line shows no ``runs`` command until the ledger lands.

TODO(runs, issue 12): fill in ``ls`` (every job of the ledger: seq, labels, status,
job id, server) and ``show`` (one job: its labels, request, last JobInfo, results
summary) from ``EvalRun(client, ledger).jobs()`` / ``.job(seq)``, with ``--json``, and
test them in tests/cli/test_runs.py.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from lmms_eval_client import InvalidArgumentError

from .server_commands import JsonFlag, examples

Ledger = Annotated[Path, typer.Argument(help="The run's ledger file (SQLite).", show_default=False)]


def has_runs() -> bool:
    """Whether the installed SDK has evaluation runs (``EvalRun``)."""
    return hasattr(importlib.import_module("lmms_eval_client"), "EvalRun")


def _not_wired(command: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"'runs {command}' is not wired to EvalRun yet")


def ls(ledger: Ledger, json_out: JsonFlag = False) -> None:
    """List the jobs of a run ledger: labels, status, job id."""
    raise _not_wired("ls")


def show(
    ledger: Ledger,
    job: Annotated[str, typer.Argument(help="The job's seq number or id in the ledger.")],
    json_out: JsonFlag = False,
) -> None:
    """Show one job of a run ledger: labels, request, last state, results."""
    raise _not_wired("show")


def runs_app() -> typer.Typer | None:
    """The ``runs`` sub-application, or None while the SDK has no ``EvalRun``."""
    if not has_runs():
        return None
    app = typer.Typer(help="Evaluation runs: many labelled jobs tracked in a ledger file.")
    app.command("ls", epilog=examples("lmms-eval-client runs ls evals.sqlite"))(ls)
    app.command("show", epilog=examples("lmms-eval-client runs show evals.sqlite 3"))(show)
    return app
