"""The ``lmms-eval-client`` application: global options, error handling, the commands.

The commands live in modules by subject (``server_commands``, ``job_commands``,
``status_commands``, ``result_commands``, ``runs``); this module puts them together,
lazily: ``COMMANDS`` says which module has each command, and only the module of the
command run is imported (a command line is started once per command: ``status`` should
not pay for ``wait``'s live view or ``results``' models). ``--help`` lists the commands
from the same table. Errors are handled once, here: a typed error of the SDK ends the
command with its exit code (``exit_codes``) and one line on stderr; ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
from typing import Annotated, Any, Literal

import typer
from typer.core import TyperCommand, TyperGroup

import lmms_eval_client as sdk  # the facade: its errors (and httpx) load when a command runs
from lmms_eval_client import __version__

from .connection import GLOBAL_OPTION, Settings
from .exit_codes import ExitCode, exit_code_for
from .output import error as report_usage
from .output import log_to_stderr, report

MARKUP: Literal["markdown"] = "markdown"

# Each command, in the order --help lists them: the module (of this package) whose
# register() adds it, and the first paragraph of its help (tests/cli/test_lazy_commands.py
# holds it equal to the command's own).
COMMANDS: dict[str, tuple[str, str]] = {
    "health": ("server_commands", "Check that the server answers and is healthy."),
    "models": ("server_commands", "List the model types the server can evaluate (one per line)."),
    "tasks": (
        "server_commands",
        "List the tasks the server knows (one per line; slow on a real server, which indexes "
        "about 2,000 task files per call).",
    ),
    "queue": (
        "server_commands",
        "Show the queue: the running job, the queued ones in order, finished counts.",
    ),
    "submit": (
        "job_commands",
        "Submit an evaluation job (every option of the server's /evaluate).",
    ),
    "wait": (
        "job_commands",
        "Wait for jobs to end, with a live view of their status, queue position and elapsed time.",
    ),
    "status": ("status_commands", "Show jobs' status, timestamps and, for a failed job, why."),
    "cancel": (
        "status_commands",
        "Cancel queued jobs (a running or finished job cannot be cancelled: exit 1).",
    ),
    "results": (
        "result_commands",
        "Show a completed job's metrics: task, filter, n-shot, metric, value, stderr.",
    ),
    "logs": (
        "result_commands",
        "Show the tail of a job's evaluation log (colour codes removed, API keys masked).",
    ),
    "compare": (
        "report_commands",
        "Compare two completed jobs sample by sample: paired t-test per task and metric, flips.",
    ),
    "runs": (
        "runs",
        "Evaluation runs: many labelled jobs tracked in a ledger (a SQLite file or a "
        "PostgreSQL schema).",
    ),
    "watch": (
        "watch_commands",
        "Watch a folder and submit each complete checkpoint a trainer writes into it, once.",
    ),
}

HELP = """Drive lmms-eval evaluation servers from a shell, a CI pipeline or a Slurm script.

The server is --server, else $LMMS_EVAL_BASE_URLS (several: a pool), else
$LMMS_EVAL_BASE_URL, else http://localhost:8000.
Every command has --json for scripts. Exit codes: 0 ok/completed, 1 failed, 2 usage
error, 3 cancelled, 4 timeout, 5 server unreachable, 6 results not reachable,
7 job not found, 8 a run's job lost, 130 interrupted.
"""

EPILOG = """Examples:

  lmms-eval-client --server http://127.0.0.1:8000 health

  lmms-eval-client submit -m qwen2_vl -t mme -a pretrained=Qwen/Qwen2-VL-2B-Instruct --wait

  lmms-eval-client results JOB_ID --csv > metrics.csv
"""


def _load(module_name: str, only: str | None = None) -> dict[str, Any]:
    """The click commands that module ``module_name`` registers, by name; with ``only``,
    that one alone (typer reads every parameter of a command it builds: submit's 20)."""
    module = importlib.import_module(f"{__package__}.{module_name}")
    holder = typer.Typer(rich_markup_mode=MARKUP)
    if module_name == "runs":
        holder.add_typer(module.runs_app(), name="runs")
    else:
        module.register(holder)
    if only is not None:
        holder.registered_commands = [
            info for info in holder.registered_commands if _name_of(info) == only
        ]
    holder.callback()(lambda: None)  # a callback makes it a group, even with one command
    group = typer.main.get_group(holder)
    return dict(group.commands)


def _name_of(info: Any) -> str:
    """The name typer gives a registered command: its own, else its function's."""
    if info.name:
        return str(info.name)
    return typer.main.get_command_name(getattr(info.callback, "__name__", ""))


_INVOKED = "lmms_eval_client.command"  # ctx.meta: shared by the invocation's contexts


class PathGroup(TyperGroup):
    """A group that notes the command it runs (``runs submit``), for a usage error's hint."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            ctx.meta[_INVOKED] = f"{ctx.command_path} {command.name}"
        return name, command, rest


class _Group(PathGroup):
    """Loads each command's module when the command is run (``COMMANDS``), and turns the
    SDK's typed errors into one line and an exit code (for every command)."""

    _listing = False  # while the group's own --help is written: the table is enough

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = self.commands.get(cmd_name)
        if command is not None or cmd_name not in COMMANDS:
            return command
        module_name, summary = COMMANDS[cmd_name]
        if self._listing:  # a stand-in with the same name and summary
            return TyperCommand(cmd_name, help=summary, rich_markup_mode=MARKUP)
        for name, loaded in _load(module_name, only=cmd_name).items():
            self.commands.setdefault(name, loaded)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (sdk.LmmsEvalError, KeyboardInterrupt) as exc:  # a bug keeps its traceback
            settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
            code = exit_code_for(exc)
            # a usage error points at the help, as click's own do
            hint = _help_hint(ctx, exc) if code == ExitCode.USAGE else ""
            report(exc, debug=settings.debug, hint=hint)
            raise typer.Exit(int(code)) from None


def _help_hint(ctx: typer.Context, exc: BaseException) -> str:
    """`` (see 'lmms-eval-client runs submit -h')``: the command that was given, or the
    application for a global option (``--timeout``, ``--server``...)."""
    if GLOBAL_OPTION in getattr(exc, "__notes__", ()):
        return f" (see '{ctx.command_path} -h')"
    return f" (see '{ctx.meta.get(_INVOKED, ctx.command_path)} -h')"


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
            "$LMMS_EVAL_BASE_URLS, comma-separated, else $LMMS_EVAL_BASE_URL, else "
            "http://localhost:8000). Repeatable: several servers "
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
    if debug:  # the SDK's whole log, for this invocation only
        log_to_stderr(ctx, logging.DEBUG, "%(asctime)s %(name)s %(levelname)s %(message)s")


def build_app() -> typer.Typer:
    """The application: global options; the commands of ``COMMANDS``, loaded when used."""
    app = typer.Typer(
        name="lmms-eval-client",
        cls=_Group,
        help=HELP,
        epilog=EPILOG,
        no_args_is_help=True,
        rich_markup_mode=MARKUP,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_options)
    return app


app: typer.Typer = build_app()


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """The console script ``lmms-eval-client``.

    Not standalone: click's usage errors (a value out of range, an unknown command) are one
    ``error:`` line with exit 2, as the command line's own are, not click's framed box.
    """
    # Slurm, docker and systemd stop a process with SIGTERM: stopped as Ctrl+C stops it
    # (a watch says so and closes its ledger; exit 130), not killed without a word.
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:  # (ignored: kept so)
        signal.signal(signal.SIGTERM, _interrupted)
    # click's errors, from the click typer runs on (its own copy since typer 0.22)
    errors: Any = sys.modules[typer.BadParameter.__module__]
    no_args = tuple(getattr(errors, n) for n in ("NoArgsIsHelpError",) if hasattr(errors, n))
    try:
        code = app(prog_name="lmms-eval-client", standalone_mode=False)
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): end quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        raise SystemExit(int(ExitCode.FAILED)) from None
    except no_args as exc:  # typer printed the help, as in standalone mode
        raise SystemExit(getattr(exc, "exit_code", int(ExitCode.USAGE))) from None
    except errors.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} -h')" if exc.ctx is not None else ""
        report_usage(f"{exc.format_message()}{hint}")
        raise SystemExit(exc.exit_code) from None
    except errors.ClickException as exc:
        report_usage(exc.format_message())
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        print("Aborted!", file=sys.stderr)
        raise SystemExit(int(ExitCode.FAILED)) from None
    raise SystemExit(code if isinstance(code, int) else int(ExitCode.OK))
