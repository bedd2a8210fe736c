"""Commands about the server: ``health``, ``models``, ``tasks``, ``queue``."""

from __future__ import annotations

import fnmatch
import time
from typing import TYPE_CHECKING, Annotated

import typer

from .connection import connect, server_of, settings_of
from .exit_codes import ExitCode
from .model_args import seconds
from .output import as_json, print_fields, print_json, print_lines, warn

if TYPE_CHECKING:
    from lmms_eval_client import EvalClient, EvalPool

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
Pattern = Annotated[
    str | None,
    typer.Argument(
        help="Keep the names matching this shell-style pattern (mmmu_*, *_val); "
        "without * ? or [ it matches anywhere in the name.",
        metavar="PATTERN",
        show_default=False,
    ),
]


def examples(*lines: str) -> str:
    """A command's --help epilog: its examples, one per paragraph."""
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines)


def matching(names: list[str], pattern: str | None) -> list[str]:
    """The names matching ``pattern`` (case-insensitive); a plain word matches as a substring.

    >>> matching(["mme", "mmmu_val", "ai2d"], "mm")
    ['mme', 'mmmu_val']
    >>> matching(["mme", "mmmu_val", "ai2d"], "*_val")
    ['mmmu_val']
    """
    if not pattern:
        return names
    if not any(char in pattern for char in "*?["):
        pattern = f"*{pattern}*"
    wanted = pattern.lower()
    return [name for name in names if fnmatch.fnmatchcase(name.lower(), wanted)]


MIN_TRY = 1.0  # seconds each try of `health --wait` gets, however little time is left


def health(
    ctx: typer.Context,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            callback=seconds("--wait", zero=True),
            help="Keep trying for up to this many seconds until the server answers healthy "
            "(for a script that has just started one).",
        ),
    ] = 0.0,
    json_out: JsonFlag = False,
) -> None:
    """Check that the server answers and is healthy.

    Exits 0 when it is, 5 when it cannot be reached, 1 when it answers otherwise.
    """
    with connect(settings_of(ctx)) as client:
        deadline = time.monotonic() + wait

        # Each try gets the time left, at least a second: a server that accepts and never
        # answers held `health --wait 3` for minutes (each try the client's 60 s).
        def left() -> float:
            return max(deadline - time.monotonic(), MIN_TRY)

        healthy = False
        while wait and not healthy:
            healthy = _all_healthy(client, left())
            if healthy or time.monotonic() >= deadline:
                break
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        # Up: its answer gets the client's timeout (a slow healthy server is healthy).
        answer = client.health(timeout=left()) if wait and not healthy else client.health()
        if json_out:
            print_json({"server": server_of(client), **as_json(answer)})
        else:
            print_fields(
                [
                    ("server", server_of(client)),
                    ("status", answer.status),
                    ("queue_size", str(answer.queue_size)),
                    ("timestamp", answer.timestamp),
                    *_not_healthy(answer),
                ]
            )
    if answer.status != "healthy":
        servers = getattr(answer, "servers", None)  # a pool's: none answered is unreachable
        unreachable = servers is not None and all(s.health is None for s in servers)
        raise typer.Exit(int(ExitCode.UNREACHABLE if unreachable else ExitCode.FAILED))


def _all_healthy(client: EvalClient | EvalPool, timeout: float) -> bool:
    """Whether the server, or every server of several, answers healthy (a pool's
    ``is_healthy()`` is any of them: `health --wait` stopped at the first one up)."""
    from lmms_eval_client import EvalPool  # (loaded with the client: not by --help)

    if isinstance(client, EvalPool):
        return client.health(timeout=timeout).status == "healthy"
    return client.is_healthy(timeout=timeout)


def _not_healthy(answer: object) -> list[tuple[str, str]]:
    """A pool's servers that are not healthy, each with why (one server's answer: none)."""
    servers = getattr(answer, "servers", None) or []
    return [
        ("not healthy", f"{s.server}: {s.error or (s.health.status if s.health else '-')}")
        for s in servers
        if not s.healthy
    ]


def _print_names(names: list[str], json_out: bool) -> None:
    """A JSON array of the names, or one a line."""
    if json_out:
        print_json(list(names))
    else:
        print_lines(names)


def models(ctx: typer.Context, pattern: Pattern = None, json_out: JsonFlag = False) -> None:
    """List the model types the server can evaluate (one per line)."""
    with connect(settings_of(ctx)) as client:
        names = matching(client.list_models(), pattern)
    _print_names(names, json_out)


def tasks(ctx: typer.Context, pattern: Pattern = None, json_out: JsonFlag = False) -> None:
    """List the tasks the server knows (one per line; slow on a real server, which indexes
    about 2,000 task files per call)."""
    with connect(settings_of(ctx)) as client:
        names = matching(client.list_tasks(), pattern)
    _print_names(names, json_out)


def queue(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Show the queue: the running job, the queued ones in order, finished counts."""
    with connect(settings_of(ctx)) as client:
        status = client.get_queue_status()
        server = server_of(client)
    if json_out:
        print_json({"server": server, **as_json(status)})
        return
    servers = getattr(status, "servers", None)  # several: a PoolQueueStatus, each its own
    running = getattr(status, "running_jobs", None) or [status.running_job or "none"]
    print_fields(
        [
            ("server", server),
            ("running", ", ".join(running)),
            ("queued", str(status.queue_size)),
            ("completed", str(status.completed_jobs)),
            ("failed", str(status.failed_jobs)),
        ]
    )
    print_lines(f"  {position}  {job_id}" for position, job_id in enumerate(status.queued_jobs))
    for each in servers or ():
        if each.queue is None:  # the sums above leave it out: said, not hidden
            warn(f"{each.server} did not answer ({each.error}); its jobs are not counted")


def register(app: typer.Typer) -> None:
    """Add these commands to the application."""
    app.command(
        epilog=examples("lmms-eval-client health", "lmms-eval-client health --wait 30 --json")
    )(health)
    app.command(epilog=examples("lmms-eval-client models", "lmms-eval-client models qwen"))(models)
    app.command(
        epilog=examples("lmms-eval-client tasks mmmu", "lmms-eval-client tasks 'mme*' --json")
    )(tasks)
    app.command(epilog=examples("lmms-eval-client queue", "lmms-eval-client queue --json"))(queue)
