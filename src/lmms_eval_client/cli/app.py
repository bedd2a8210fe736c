"""The ``lmms-eval-client`` application: global options, error handling, the commands.

The commands live in modules by subject (``server_commands``, ``job_commands``,
``result_commands``, ``runs``); this module puts them together. Errors are handled once,
here: a typed error of the SDK ends the command with its exit code (``exit_codes``) and one
line on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lmms_eval_client import LmmsEvalError, __version__

from . import job_commands, result_commands, server_commands
from .connection import Settings
from .exit_codes import ExitCode, exit_code_for
from .output import report
from .runs import runs_app

HELP = """Drive lmms-eval evaluation servers from a shell, a CI pipeline or a Slurm script.

The server is --server, else $LMMS_EVAL_BASE_URL, else http://localhost:8000.
Every command has --json for scripts. Exit codes: 0 ok/completed, 1 failed, 2 usage
error, 3 cancelled, 4 timeout, 5 server unreachable, 6 results not reachable,
7 job not found, 130 interrupted.
"""

EPILOG = """Examples:

  lmms-eval-client --server http://127.0.0.1:8000 health

  lmms-eval-client submit -m qwen2_vl -t mme -a pretrained=Qwen/Qwen2-VL-2B-Instruct --wait

  lmms-eval-client results JOB_ID --csv > metrics.csv
"""


class _Group(TyperGroup):
    """Turns the SDK's typed errors into one line and an exit code (for every command)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (LmmsEvalError, KeyboardInterrupt) as exc:  # a bug keeps its traceback
            settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
            report(exc, debug=settings.debug)
            raise typer.Exit(int(exit_code_for(exc))) from None


def _version(value: bool) -> None:
    if value:
        print(f"lmms-eval-client {__version__}")
        raise typer.Exit()


def _options(
    ctx: typer.Context,
    server: Annotated[
        list[str] | None,
        typer.Option(
            "--server",
            "-s",
            help="Base URL of the server, e.g. http://gpu-box:8000 (default: "
            "$LMMS_EVAL_BASE_URL, else http://localhost:8000). Repeatable: several servers "
            "make a pool (jobs routed by model, tasks and load).",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Sent as 'Authorization: Bearer ...' for a server behind an authenticating "
            "proxy (default: $LMMS_EVAL_API_KEY). Never printed.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Network timeout of one request, in seconds (default: 60, 10 to connect). "
            "Not how long 'wait' waits: that is 'wait --timeout'.",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Tracebacks and the client's debug log on stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = Settings(servers=tuple(server or ()), api_key=api_key, timeout=timeout, debug=debug)
    if debug:
        _log_to_stderr(ctx)


def _log_to_stderr(ctx: typer.Context) -> None:
    """The SDK's log at DEBUG on stderr, for this invocation only (undone when it ends, so
    that an in-process run, e.g. CliRunner's, leaves the logger as it found it)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("lmms_eval_client")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    ctx.call_on_close(undo)


def build_app() -> typer.Typer:
    """The application: global options, every command, ``runs`` when the SDK has runs."""
    app = typer.Typer(
        name="lmms-eval-client",
        cls=_Group,
        help=HELP,
        epilog=EPILOG,
        no_args_is_help=True,
        rich_markup_mode="markdown",
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_options)
    server_commands.register(app)
    job_commands.register(app)
    result_commands.register(app)
    app.add_typer(runs_app(), name="runs")
    return app


app: typer.Typer = build_app()


def main() -> None:
    """The console script ``lmms-eval-client``."""
    try:
        app(prog_name="lmms-eval-client")
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): end quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        raise SystemExit(int(ExitCode.FAILED)) from None
