"""``lmms-eval-client runs report`` (one HTML file of run ledgers) and ``compare`` (two
checkpoints, sample by sample).

``runs report`` reads its ledgers read-only (as ``runs export``); results, samples and logs
are read through the path map of ``$LMMS_EVAL_PATH_MAP`` (or the client's, with
``--server``). ``compare`` takes two job ids of the server (``--server``), or, with
``--ledger``, two seqs or keys of a run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .connection import connect, settings_of
from .output import print_json, print_lines
from .server_commands import JsonFlag, examples

# Strings, not Paths: a PostgreSQL URL through Path loses the // of postgresql://.
LedgerFiles = Annotated[
    list[str],
    typer.Argument(
        help="The runs' ledgers: SQLite files, or PostgreSQL schemas as "
        "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB?schema=RUN.",
        envvar="LMMS_EVAL_LEDGER",
        show_envvar=True,
        show_default=False,
    ),
]


def report(
    ctx: typer.Context,
    ledgers: LedgerFiles,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="The HTML file to write.", show_default=False)
    ],
    samples: Annotated[
        str | None,
        typer.Option(
            "--samples",
            help="A seq or key of the first run: its samples in a paged viewer.",
            show_default=False,
        ),
    ] = None,
    compare_jobs: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare",
            help="Two seqs or keys of the first run: their samples compared.",
            show_default=False,
        ),
    ] = None,
    step_label: Annotated[
        str, typer.Option("--step-label", help="The label plotted on the x axis.")
    ] = "step",
    max_samples: Annotated[
        int, typer.Option("--max-samples", help="Samples shown per task at most.")
    ] = 200,
) -> None:
    """Write one self-contained HTML report of runs: metric curves, jobs, samples.

    Opens offline (nothing fetched). Metric vs step per task and metric with stderr bands
    and the best point marked, a line per ledger; every job with its status, duration,
    metrics and, for a failed or lost one, why; optionally one checkpoint's samples
    (--samples) and two checkpoints compared (--compare).
    """
    from lmms_eval_client._report import page_descriptor, write_report

    files: dict[str, object] = {}
    if settings_of(ctx).servers:
        with connect(settings_of(ctx)) as client:
            files = {"path_map": client.path_map, "filesystem": client.filesystem}
    written = write_report(
        ledgers,
        out,
        step_label=step_label,
        samples_job=samples,  # a key, else a seq's digits (job_by_seq_or_key)
        max_samples=max_samples,
        compare_jobs=compare_jobs,
        **files,  # type: ignore[arg-type]
    )
    # -o /dev/stdout: the page is the output, the line goes to stderr (not into the page)
    print(f"report written: {written}", file=sys.stderr if page_descriptor(out) == 1 else None)


def compare(
    ctx: typer.Context,
    job_a: Annotated[str, typer.Argument(help="Job a: a job id (a seq or key with --ledger).")],
    job_b: Annotated[str, typer.Argument(help="Job b, compared with a (a - b).")],
    ledger: Annotated[
        str | None,
        typer.Option(
            "--ledger",
            help="Take a and b as seqs or keys of this run ledger (a SQLite file or a "
            "PostgreSQL URL).",
        ),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Compare two completed jobs sample by sample: paired t-test per task and metric, flips.

    For each task and metric both logged samples of: the mean of each, the difference
    a - b with lmms-eval's paired t-test (95% interval, p-value) over the documents both
    scored, and the number of samples whose score changed (--json lists them).
    """
    from lmms_eval_client._report import compare as compare_jobs
    from lmms_eval_client._report.data import read_comparison

    settings = settings_of(ctx)
    if ledger is not None:
        from .runs import open_read_only

        with open_read_only(ledger):  # a missing ledger: a clear error, not a new file
            pass
        files: dict[str, object] = {}
        if settings.servers:
            with connect(settings) as client:
                files = {"path_map": client.path_map, "filesystem": client.filesystem}
        comparison = read_comparison(
            ledger,
            job_a,
            job_b,
            **files,  # type: ignore[arg-type]
        )
    else:
        with connect(settings) as client:
            info_a, info_b = client.get_job(job_a), client.get_job(job_b)
            comparison = compare_jobs(
                info_a, info_b, path_map=client.path_map, filesystem=client.filesystem
            )
    if json_out:
        print_json(comparison.model_dump(mode="json"))
    else:
        print_lines([comparison.table()])


def register(app: typer.Typer) -> None:
    """Add ``compare`` (a top-level command)."""
    app.command(
        "compare",
        epilog=examples(
            "lmms-eval-client compare JOB_A JOB_B",
            "lmms-eval-client compare --ledger evals.sqlite step-100 step-600 --json",
        ),
    )(compare)


def register_runs(app: typer.Typer) -> None:
    """Add ``report`` to the ``runs`` sub-application."""
    app.command(
        "report",
        epilog=examples(
            "lmms-eval-client runs report evals.sqlite -o report.html --samples step-600",
            "lmms-eval-client runs report a.sqlite b.sqlite -o both.html",
        ),
    )(report)
