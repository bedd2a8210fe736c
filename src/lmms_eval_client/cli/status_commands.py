"""Commands that look jobs up once: ``status`` and ``cancel`` (a module of their own: they
import neither the submission options nor the live view, and ``status`` is the command
run most often, by scripts)."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import JsonValue

from lmms_eval_client import (
    JobCancelledError,
    JobFailedError,
    JobInfo,
    JobStatus,
    LmmsEvalError,
    process_job_status,
)

from .._job_times import format_seconds, run_seconds
from .connection import connect, settings_of
from .exit_codes import ExitCode, exit_code_for, one_line, worst
from .output import as_json, print_fields, print_json, print_lines, report
from .server_commands import JsonFlag, examples

Jobs = Annotated[list[str], typer.Argument(help="Job ids.", metavar="JOB...", show_default=False)]


def _status_fields(job: JobInfo) -> list[tuple[str, str]]:
    """What ``status`` shows of one job, a field a line."""
    fields = [("job", job.job_id), ("status", str(job.status))]
    if job.status == JobStatus.QUEUED and job.position_in_queue is not None:
        fields.append(("queue position", str(job.position_in_queue)))
    fields.append(("model", job.request.model))
    fields.append(("tasks", ", ".join(job.request.tasks)))
    for name, value in (
        ("created", job.created_at),
        ("started", job.started_at),
        ("completed", job.completed_at),
    ):
        if value:
            fields.append((name, value.replace("T", " ")[:19]))  # to the second
    seconds = run_seconds(job)
    if seconds is not None:
        fields.append(("duration", format_seconds(seconds)))
    for files in (job.result or {}).values():
        fields.append(("results", files.results or "(none)"))
    try:
        process_job_status(job)
    except JobFailedError as exc:
        fields.append(("error", exc.reason))
    except JobCancelledError:
        pass
    return fields


def status(ctx: typer.Context, jobs: Jobs, json_out: JsonFlag = False) -> None:
    """Show jobs' status, timestamps and, for a failed job, why.

    Exits 0, or 7 when the server does not know a job (the others are still shown).
    """
    found: list[JobInfo] = []
    codes: list[ExitCode] = []
    settings = settings_of(ctx)
    with connect(settings) as client:
        for job_id in jobs:
            try:
                found.append(client.get_job(job_id))
            except LmmsEvalError as exc:
                if exit_code_for(exc) != ExitCode.NOT_FOUND:
                    raise
                report(exc, debug=settings.debug)
                codes.append(ExitCode.NOT_FOUND)
    if json_out:
        print_json([as_json(job) for job in found])
    else:
        for index, job in enumerate(found):
            if index:
                print_lines([""])
            print_fields(_status_fields(job))
    raise typer.Exit(int(worst(codes)))


def cancel(ctx: typer.Context, jobs: Jobs, json_out: JsonFlag = False) -> None:
    """Cancel queued jobs (a running or finished job cannot be cancelled: exit 1)."""
    records: list[dict[str, JsonValue]] = []
    codes: list[ExitCode] = []
    settings = settings_of(ctx)
    with connect(settings) as client:
        for job_id in jobs:
            try:
                answer = client.cancel_job(job_id)
            except LmmsEvalError as exc:
                code = exit_code_for(exc)
                if code in (ExitCode.UNREACHABLE, ExitCode.USAGE):
                    raise
                codes.append(code)
                records.append({"job_id": job_id, "cancelled": False, "error": one_line(exc)})
                if not json_out:
                    report(exc, debug=settings.debug)
                continue
            records.append({"job_id": job_id, "cancelled": True, "message": answer.message})
            if not json_out:
                print_lines([f"cancelled {job_id}"])
    if json_out:
        print_json(list(records))
    raise typer.Exit(int(worst(codes)))


def register(app: typer.Typer) -> None:
    """Add these commands to the application."""
    app.command(
        epilog=examples("lmms-eval-client status JOB_ID", "lmms-eval-client status A B --json")
    )(status)
    app.command(epilog=examples("lmms-eval-client cancel JOB_ID", "lmms-eval-client cancel A B"))(
        cancel
    )
