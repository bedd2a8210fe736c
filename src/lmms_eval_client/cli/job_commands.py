"""Commands that follow jobs as they run: ``submit`` (``--wait``) and ``wait``
(``status`` and ``cancel``, which only look a job up, live in ``status_commands``)."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from typing import Annotated

import typer
from pydantic import JsonValue

from lmms_eval_client import (
    ModelNameWarning,
)

from .connection import Client, connect, server_of, settings_of
from .exit_codes import ExitCode, one_line, worst
from .live import LiveView, make_view
from .model_args import seconds
from .output import as_json, error, note, print_json, print_lines, warn
from .server_commands import JsonFlag, examples
from .status_commands import Jobs
from .submit_options import PollInterval, SubmissionOptions, submission_options
from .watch import Tracked, watch

Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="One line per change instead of the live table (for logs)."),
]


_SUBMIT_STOPPED = (
    "Interrupted (Ctrl+C) while submitting: the job may have reached the server; "
    "look at lmms-eval-client queue before submitting again"
)


@contextlib.contextmanager
def _interrupt_says(message: str) -> Iterator[None]:
    """Ctrl+C inside: print ``message`` and exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        note(message)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def _stop_message(pending: list[str]) -> str:
    ids = " ".join(pending)
    return (
        f"Stopped waiting (Ctrl+C). {len(pending)} job(s) not cancelled: they go on on the "
        f"server. Wait again: lmms-eval-client wait {ids}; cancel: lmms-eval-client cancel {ids}"
    )


def wait_and_report(
    client: Client,
    job_ids: list[str],
    *,
    poll_interval: float,
    timeout: float | None,
    quiet: bool,
    to_stderr: bool,
) -> tuple[ExitCode, list[dict[str, JsonValue]]]:
    """Wait for the jobs with a live view (or lines); their exit code and JSON records.

    ``to_stderr``: show the progress on stderr (stdout is for the JSON or the job id).

    Ctrl+C stops waiting, says so, and exits 130: the jobs are not cancelled.
    """
    start = time.monotonic()
    tracked = [Tracked(job_id, since=start) for job_id in job_ids]
    view = make_view(tracked, server=server_of(client), quiet=quiet, to_stderr=to_stderr)
    try:
        with view:
            watch(client, tracked, view, poll_interval=poll_interval, timeout=timeout)
    except KeyboardInterrupt:
        note(_stop_message([t.job_id for t in tracked if t.outcome is None]))
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    now = time.monotonic()
    if isinstance(view, LiveView) and not to_stderr:
        for job in tracked:  # the table clips; the whole line is here
            if job.error is not None:
                error(one_line(job.error))
    return worst([t.exit_code for t in tracked]), [t.to_json(now) for t in tracked]


@submission_options()
def submit(
    ctx: typer.Context,
    submission: SubmissionOptions,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            "-l",
            help="key=value label, repeatable (or k=v,k2=v2; quote a value holding a comma: "
            'n="a,b"): shown with the job (and in --json), for scripts to tell jobs '
            "apart; not sent to the server.",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait for the job to end.")] = False,
    wait_timeout: Annotated[
        float | None,
        typer.Option(
            callback=seconds("--wait-timeout", zero=True),
            help="With --wait: seconds to wait at most (exit 4 after).",
        ),
    ] = None,
    poll_interval: PollInterval = 2.0,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Print only the job id on stdout; with --wait, progress lines on stderr.",
        ),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Submit an evaluation job (every option of the server's /evaluate).

    Prints the job id; with --wait, waits for it and exits with its outcome (0 completed,
    1 failed, 3 cancelled, 4 timeout).
    """
    parsed = submission.parse(label)
    labels = parsed.labels
    with connect(settings_of(ctx), output_root=submission.output_root) as client:
        with warnings.catch_warnings(record=True) as caught, _interrupt_says(_SUBMIT_STOPPED):
            warnings.simplefilter("always", ModelNameWarning)
            job = client.evaluate(parsed.model, parsed.tasks, parsed.model_args, **parsed.options)
        for warning in caught:
            warn(str(warning.message))
        record: dict[str, JsonValue] = {
            "server": server_of(client, job),
            **as_json(job),
            "labels": dict(labels),
        }
        if quiet:
            print_lines([job.job_id])
        elif not json_out:
            where = f"position {job.position_in_queue}" if job.status == "queued" else ""
            shown = ", ".join(part for part in (str(job.status), where) if part)
            print_lines([f"submitted {job.job_id} ({shown}) to {server_of(client, job)}"])
            if labels:
                print_lines(["labels: " + " ".join(f"{k}={v}" for k, v in labels.items())])
        code = ExitCode.OK
        if wait:
            code, waited = wait_and_report(
                client,
                [job.job_id],
                poll_interval=poll_interval,
                timeout=wait_timeout,
                quiet=quiet,
                to_stderr=json_out or quiet,
            )
            record["wait"] = waited[0]
    if json_out:
        print_json(record)
    raise typer.Exit(int(code))


def wait_command(
    ctx: typer.Context,
    jobs: Jobs,
    timeout: Annotated[
        float | None,
        typer.Option(
            callback=seconds("--timeout", zero=True),
            help="Seconds to wait at most (0: look once); then exit 4, jobs go on.",
        ),
    ] = None,
    poll_interval: PollInterval = 2.0,
    quiet: Quiet = False,
    json_out: JsonFlag = False,
) -> None:
    """Wait for jobs to end, with a live view of their status, queue position and elapsed time.

    Exits with the outcome: 0 all completed, 1 one failed, 3 cancelled, 4 timeout, 7 not
    found (several jobs: the most severe). Ctrl+C stops waiting without cancelling (130).
    """
    with connect(settings_of(ctx)) as client:
        code, records = wait_and_report(
            client,
            list(dict.fromkeys(jobs)),  # each job once, in the order given
            poll_interval=poll_interval,
            timeout=timeout,
            quiet=quiet,
            to_stderr=json_out,
        )
    if json_out:
        print_json(list(records))
    raise typer.Exit(int(code))


def register(app: typer.Typer) -> None:
    """Add these commands to the application."""
    app.command(
        epilog=examples(
            "lmms-eval-client submit -m qwen2_vl -t mme -a pretrained=Qwen/Qwen2-VL-2B-Instruct",
            "lmms-eval-client submit -m qwen2_vl -t mme,mmmu_val "
            "-a pretrained=Qwen/Qwen2-VL-2B-Instruct,dtype=bfloat16 --limit 8 --wait",
            "JOB=$(lmms-eval-client submit -m qwen2_vl -t mme "
            '-a \'{"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}\' --label epoch=3 -q)',
        )
    )(submit)
    app.command(
        "wait",
        epilog=examples(
            "lmms-eval-client wait JOB_ID",
            "lmms-eval-client wait A B --timeout 3600 --quiet",
            "lmms-eval-client wait JOB_ID --json",
        ),
    )(wait_command)
