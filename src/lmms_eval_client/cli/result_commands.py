"""Commands about what a job wrote: ``results`` (its metrics) and ``logs`` (its evaluation log).

Both read files on the server's disk, so they work where those files are reachable: the
same machine, a shared filesystem, or ``$LMMS_EVAL_PATH_MAP`` (see the results guide's
"Where the files are"); otherwise they exit 6 with the SDK's explanation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import JsonValue

from lmms_eval_client import (
    EvalResults,
    InvalidArgumentError,
    JobInfo,
    JobStatus,
    ResultsError,
    ResultsFormatError,
    ResultsNotReachableError,
)

from .._results.url_filesystems import is_url
from .connection import Client, connect, settings_of
from .exit_codes import ExitCode, one_line
from .model_args import seconds
from .output import (
    note,
    print_json,
    print_json_line,
    print_lines,
    print_text,
    results_csv,
    results_json,
)
from .server_commands import JsonFlag, examples

_ENDED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
_OUTCOME_CODES = {
    JobStatus.COMPLETED: ExitCode.OK,
    JobStatus.FAILED: ExitCode.FAILED,
    JobStatus.CANCELLED: ExitCode.CANCELLED,
}


def looks_like_path(target: str) -> bool:
    """A results file or folder rather than a job id (which is a UUID); a broken link or a
    link loop is a path too (said as such, not sent to the server as an id)."""
    return os.path.lexists(target) or "/" in target or target.endswith(".json")


# How far `results FOLDER` looks: folders below, results files found (a wrong folder, `/`
# or a home, must end with a message, not a walk of the whole disk).
MAX_DEPTH = 4
MAX_FILES = 1000
_MAX_FOLDERS = 20_000  # folders read, whatever the depth


def results_files_in(
    folder: Path, *, max_depth: int = MAX_DEPTH, max_files: int = MAX_FILES
) -> list[Path]:
    """The latest ``*_results.json`` of a folder and of each folder below it, searched
    ``max_depth`` levels down (an output root holds ``<job folder>/<model>/`` files).

    Symbolic links to folders are not followed (no loops). Folders deeper than
    ``max_depth`` are not read: when they hold the only files, the error says so.

    Raises:
        ResultsFormatError: No results file in the tree searched.
        ResultsNotReachableError: ``folder`` itself cannot be listed (permission denied...);
            a sub-folder that cannot be is skipped.
        InvalidArgumentError: More than ``max_files`` results files, or a tree too large to
            search (the message says which bound to raise, or to name a narrower folder).

    Example::

        files = results_files_in(Path("evals"), max_depth=2)  # <root>/<job>/<model>/
    """
    found: list[Path] = []
    cut: list[Path] = []  # folders left unread at the depth bound
    level = [folder]
    read = 0
    for depth in range(max_depth + 1):
        if not level:  # nothing deeper: a --max-depth of 10**20 must not count to it
            break
        below: list[Path] = []
        for where in level:
            read += 1
            if read > _MAX_FOLDERS:
                raise InvalidArgumentError(
                    f"{folder} holds more than {_MAX_FOLDERS} folders within {max_depth} "
                    "levels: name a narrower folder (or lower --max-depth)"
                )
            files: list[Path] = []
            folders: list[Path] = []
            try:
                entries = sorted(os.scandir(where), key=lambda entry: entry.name)
            except OSError as exc:
                if where == folder:
                    raise _unlisted(folder, exc) from None
                continue  # an unreadable sub-folder is skipped, as find does
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
                elif entry.name.endswith("_results.json"):
                    files.append(Path(entry.path))
            if files:
                found.append(files[-1])  # timestamped names sort by time
                if len(found) > max_files:
                    raise InvalidArgumentError(
                        f"{folder} holds more than {max_files} results files (searched "
                        f"{max_depth} levels down): name a narrower folder or raise --max-files"
                    )
            if depth < max_depth:
                below.extend(folders)
            elif folders:
                cut.append(where)
        level = below
    if not found:
        deeper = f" (not searched below {max_depth} levels: raise --max-depth)" if cut else ""
        raise ResultsFormatError(
            f"{folder} holds no *_results.json file, nor do the folders below it{deeper}",
            path=str(folder),
            reason="no results file",
        )
    if cut:
        note(f"{folder}: folders below {max_depth} levels not searched (raise --max-depth)")
    return sorted(found)


def _unlisted(folder: Path, exc: OSError) -> ResultsNotReachableError:
    """The error for a folder named on the command line whose listing failed."""
    why = (exc.strerror or type(exc).__name__).lower()
    return ResultsNotReachableError(
        f"{folder} cannot be listed here: {why}. Name a folder this user can read, or "
        "the *_results.json files themselves",
        client_path=str(folder),
        reason=why,
    )


def load_target(
    target: str,
    model: str | None,
    ctx: typer.Context,
    *,
    max_depth: int = MAX_DEPTH,
    max_files: int = MAX_FILES,
) -> list[EvalResults]:
    """The results a ``results`` target names: a file (a URL too), a folder tree, or a job
    id."""
    if is_url(target):  # read through fsspec, as EvalResults.load reads it (Path drops "//")
        return [EvalResults.load(target)]
    if looks_like_path(target):
        path = Path(target)
        if path.is_dir():
            files = results_files_in(path, max_depth=max_depth, max_files=max_files)
            return [EvalResults.load(file) for file in files]
        return [EvalResults.load(path)]
    with connect(settings_of(ctx)) as client:
        if model is not None:
            return [client.load_results(target, model=model)]
        return list(client.load_all_results(target).values())


def results(
    ctx: typer.Context,
    targets: Annotated[
        list[str],
        typer.Argument(
            help="Job ids, *_results.json files, or folders holding them (searched down "
            "to --max-depth levels: an output root works).",
            metavar="JOB|PATH...",
            show_default=False,
        ),
    ],
    model: Annotated[
        str | None, typer.Option(help="The model's results, for a job with several.")
    ] = None,
    max_depth: Annotated[
        int, typer.Option(min=0, help="How many folder levels below a folder are searched.")
    ] = MAX_DEPTH,
    max_files: Annotated[
        int,
        typer.Option(min=1, help="At most this many results files per folder (else exit 2)."),
    ] = MAX_FILES,
    json_out: JsonFlag = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV, one row per metric.")] = False,
) -> None:
    """Show a completed job's metrics: task, filter, n-shot, metric, value, stderr.

    Several targets (jobs, files, folder trees) make one table: with more than one, a
    ``source`` column (CSV), field (JSON) or heading says which target each row came from;
    a ``path`` column (CSV), field (JSON) or heading, which results file.
    Reads the results file the job wrote (on the server's disk: reachable here through the
    same machine, a shared filesystem or $LMMS_EVAL_PATH_MAP; else exit 6).
    """
    if json_out and csv_out:
        raise InvalidArgumentError("give --json or --csv, not both")
    named = list(dict.fromkeys(targets))  # each once, in the order given
    loaded = [
        (target, one)
        for target in named
        for one in load_target(target, model, ctx, max_depth=max_depth, max_files=max_files)
    ]
    several = len(named) > 1
    if json_out:
        records: list[JsonValue] = [
            {**({"source": target} if several else {}), **results_json(one)}
            for target, one in loaded
        ]
        print_json(records)
    elif csv_out:
        sources = [target for target, _ in loaded] if several else None
        print_text(results_csv([one for _, one in loaded], sources))
    else:
        for index, (target, one) in enumerate(loaded):
            if index:
                print_lines([""])
            source = f"{target}: " if several else ""
            model = one.model_name or "(the file names no model)"
            print_lines([f"{source}{model}  ({one.path})", one.table()])


def _emit(lines: list[str], json_out: bool) -> None:
    if json_out:
        for line in lines:
            print_json_line({"line": line})
    else:
        print_lines(lines)


def follow(
    client: Client,
    job_id: str,
    *,
    lines: int,
    poll_interval: float,
    json_out: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> JobInfo:
    """Print the log's tail, then each line it gains, until the job ends; the final JobInfo.

    The log is read on from where the last read ended (a byte offset), so a line is
    printed once however often the log repeats it. A line is printed once it has ended
    (a progress bar redraws its line); the last one once the job has ended.
    """
    from lmms_eval_client._results.eval_log import read_eval_log

    offset: int | None = None
    path: str | None = None
    waiting_noted = False
    while True:
        job = client.get_job(job_id)  # first: a log read after an end is the whole log
        ended = job.status in _ENDED
        caught_up = True
        try:
            part = read_eval_log(
                job, offset=offset, path=path, lines=lines, final=ended,
                path_map=client.path_map, filesystem=client.filesystem,
            )  # fmt: skip
        except ResultsError as exc:
            if ended:
                if job.status == JobStatus.CANCELLED and offset is None:
                    note(f"job {job_id} was cancelled before it ran: it has no log")
                    return job
                raise
            if not waiting_noted:
                note(f"waiting for the log of job {job_id} ({job.status}): {one_line(exc)}")
                waiting_noted = True
        else:
            _emit(part.lines, json_out)
            offset, path, caught_up = part.offset, part.path, part.caught_up
        if caught_up:  # else: more than one read's worth is there, read on at once
            if ended:
                return job
            sleep(poll_interval)


def logs(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job id.", metavar="JOB", show_default=False)],
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="Lines of the tail.")] = 50,
    follow_log: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new lines until the job ends."),
    ] = False,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval", callback=seconds("--poll-interval"), help="Seconds between reads."
        ),
    ] = 1.0,
    json_out: JsonFlag = False,
) -> None:
    """Show the tail of a job's evaluation log (colour codes removed, API keys masked).

    With --follow, exits with the job's outcome: 0 completed, 1 failed, 3 cancelled. The
    log is in the job's output folder: submit with --output-dir or --output-root (or
    $LMMS_EVAL_OUTPUT_ROOT) so that it can be found.
    """
    with connect(settings_of(ctx)) as client:
        if follow_log:
            try:
                job = follow(
                    client, job_id, lines=lines, poll_interval=poll_interval, json_out=json_out
                )
            except KeyboardInterrupt:
                note("Stopped following the log (Ctrl+C); the job goes on on the server.")
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
            if json_out:
                print_json_line({"job_id": job.job_id, "status": str(job.status)})
            raise typer.Exit(int(_OUTCOME_CODES.get(job.status, ExitCode.OK)))
        text = client.eval_log(job_id, lines=lines)
    rows = text.split("\n") if text else []
    if json_out:
        record: dict[str, JsonValue] = {"job_id": job_id, "lines": list(rows)}
        print_json(record)
    else:
        print_lines(rows)


def register(app: typer.Typer) -> None:
    """Add these commands to the application."""
    app.command(
        epilog=examples(
            "lmms-eval-client results JOB_ID",
            "lmms-eval-client results JOB_ID --csv > metrics.csv",
            "lmms-eval-client results evals/Qwen__Qwen2-VL-2B/20261202_055237_results.json",
            "lmms-eval-client results JOB_A JOB_B evals/ --csv > all.csv",
        )
    )(results)
    app.command(
        epilog=examples(
            "lmms-eval-client logs JOB_ID -n 100", "lmms-eval-client logs JOB_ID --follow"
        )
    )(logs)
