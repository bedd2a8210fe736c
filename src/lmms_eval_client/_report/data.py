"""What a report shows, read from run ledgers (read-only) and the jobs' results files.

Everything is gathered here, as plain data, before a line of HTML is written (``page.py``):
the metric rows (``table_rows`` over ``TABLE_QUERY``, as ``runs export``), every job with its
status, duration, failure reason and, when the log is reachable, its tail; the samples of one
checkpoint, at most ``max_samples`` a task, read lazily from the stream (a samples file of
500 MB costs its first lines only); and optionally a comparison of two checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePath
from typing import Any

from .._checks import check_count
from .._exceptions import InvalidArgumentError, LmmsEvalError
from .._results.eval_log import eval_log_tail
from .._results.file_access import FileSystem
from .._results.files import load_job_results
from .._results.path_map import PathMap, check_path_map
from .._results.redaction import redact_secrets
from .._runs.ledger import Ledger
from .._runs.ledger_keys import job_by_seq_or_key
from .._runs.outcomes import FAILED, LOST, JobFailed, JobLost, TrackedJob, outcome_of
from .._runs.postgres.url import is_database_url, parse_url
from .._runs.table import TABLE_PARAMS, TABLE_QUERY, MetricRow, table_rows
from .._secret_args import secret_bearing
from .compare import Comparison, compare

MAX_TEXT = 2000  # characters of one sample field shown (the rest is cut, and says so)
LOG_LINES = 20
JobRef = int | str


@dataclass
class RunData:
    """One ledger's part of a report."""

    name: str
    path: str  # as the page shows it: a URL's password masked
    rows: list[MetricRow]
    jobs: list[TrackedJob]
    reasons: dict[int, str] = field(default_factory=dict)  # seq -> why it failed / was lost
    logs: dict[int, str] = field(default_factory=dict)  # seq -> log tail, when readable
    # What opens it again (samples, comparison): a URL with its password, never shown.
    source: str = field(default="", repr=False)


@dataclass
class SampleRow:
    """One sample as shown: its fields as text."""

    task: str
    doc_id: str
    input: str
    target: str
    prediction: str
    score: str


@dataclass
class SampleData:
    """The samples of one checkpoint, capped."""

    job: TrackedJob
    rows: list[SampleRow]
    capped: list[str]  # tasks with more samples than shown
    max_samples: int
    problems: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    """Everything a report shows."""

    runs: list[RunData]
    step_label: str
    samples: SampleData | None = None
    comparison: Comparison | None = None


def cut_text(value: Any) -> str:
    """A value as text of at most MAX_TEXT characters (the rest cut, and said so)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > MAX_TEXT:
        return f"{text[:MAX_TEXT]}... ({len(text) - MAX_TEXT} more characters)"
    return text


def read_run(
    path: str | os.PathLike[str],
    *,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
) -> RunData:
    """A ledger's rows, jobs, failure reasons and log tails (read-only): a SQLite file, or
    a PostgreSQL URL (named by its schema, shown without its password). A missing ledger
    is the read-only Ledger's LedgerNotFoundError (nothing created), a file or a schema.

    Example::

        run = read_run("evals.sqlite")
    """
    target = os.fspath(path)
    database = is_database_url(target)
    with contextlib.closing(Ledger(target, read_only=True)) as ledger:
        rows = table_rows(ledger.rows(TABLE_QUERY, TABLE_PARAMS), ledger.path)
        jobs = ledger.jobs()
        shown = ledger.path
        fingerprints = ledger.fingerprints
    name = parse_url(target).schema if database else Path(target).name
    data = RunData(name=name, path=shown, rows=rows, jobs=jobs, source=target)
    for job in jobs:
        if job.state not in (FAILED, LOST):
            continue
        outcome = outcome_of(job)
        if isinstance(outcome, JobFailed):
            data.reasons[job.seq] = redact_secrets(outcome.reason)  # a server's text
        elif isinstance(outcome, JobLost):
            data.reasons[job.seq] = redact_secrets(outcome.why)
        if job.info is not None:
            # best effort: a log the server wrote where this machine cannot read is skipped
            with contextlib.suppress(LmmsEvalError, OSError):
                tail = eval_log_tail(
                    job.info, lines=LOG_LINES, path_map=path_map, filesystem=filesystem
                )
                # each line capped too: a log of 300,000-character lines made a 12 MB page
                # the ledger holds fingerprints of the job's secrets: found by them, as words
                # (in the whole tail, before a line is cut: a long secret may cross the cut)
                told = fingerprints.told_in(tail, secret_bearing(job.info.request))
                lines = tail.splitlines()
                data.logs[job.seq] = "\n".join(
                    cut_text(redact_secrets(line, told)) for line in lines
                )
    return data


def _job_of(path: str, which: JobRef) -> TrackedJob:
    with contextlib.closing(Ledger(path, read_only=True)) as ledger:
        return job_by_seq_or_key(ledger, which)


def _completed_info(job: TrackedJob, what: str) -> Any:
    if job.info is None or job.state != "completed":
        raise InvalidArgumentError(
            f"{what}: job {job.seq} ({job.key or job.job_id or '-'}) is {job.state}: only a "
            "completed job has samples"
        )
    return job.info


def read_samples(
    path: str,
    which: JobRef,
    max_samples: int,
    *,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
) -> SampleData:
    """At most ``max_samples`` samples of each task of one job, read from the stream's head."""
    job = _job_of(path, which)
    info = _completed_info(job, "samples")
    data = SampleData(job=job, rows=[], capped=[], max_samples=max_samples)
    try:
        results = load_job_results(info, path_map=path_map, filesystem=filesystem)
        files = results.sample_files
    except LmmsEvalError as exc:
        data.problems.append(f"results not readable: {exc}")
        return data
    if not files:
        data.problems.append("this job has no samples files (submit with log_samples=True)")
    for task in sorted(files):
        # Each sample cut as it is read: the page's memory is one sample's at most, not the
        # head's (24 samples of 40 MiB each held 1 GB).
        rows: list[SampleRow] = []
        try:
            for sample in islice(results.samples(task), max_samples + 1):
                rows.append(
                    SampleRow(
                        task=task,
                        doc_id=cut_text(sample.doc_id),
                        input=cut_text(sample.input),
                        target=cut_text(sample.target),
                        prediction=cut_text(sample.filtered_resps),
                        score=cut_text(sample.metrics) if sample.metrics else "",
                    )
                )
        except LmmsEvalError as exc:
            data.problems.append(f"{task}: samples not readable: {exc}")
            continue
        if len(rows) > max_samples:
            data.capped.append(task)
        data.rows.extend(rows[:max_samples])
    return data


def read_comparison(
    path: str,
    a: JobRef,
    b: JobRef,
    *,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
) -> Comparison:
    """``compare`` of two jobs of one ledger (by seq or key)."""
    job_a, job_b = _job_of(path, a), _job_of(path, b)
    info_a, info_b = _completed_info(job_a, "compare"), _completed_info(job_b, "compare")
    comparison = compare(info_a, info_b, path_map=path_map, filesystem=filesystem)
    return comparison.model_copy(update={"a": _job_name(job_a), "b": _job_name(job_b)})


def _tell_apart(runs: list[RunData]) -> None:
    """Runs of one name (``a/evals.sqlite``, ``b/evals.sqlite``: a folder per training) are
    named by as much of their path as tells them apart; a database's by its URL as shown;
    the same ledger given twice by its place in the list."""
    for name in {run.name for run in runs}:
        same = [run for run in runs if run.name == name]
        if len(same) < 2:
            continue
        parts = [PurePath(run.path).parts if not is_database_url(run.source) else (run.path,)
                 for run in same]  # fmt: skip
        for depth in range(1, max(map(len, parts)) + 1):
            names = [os.path.join(*p[-depth:]) for p in parts]  # (a root part: "/x/...")
            if len(set(names)) == len(names):
                break
        else:
            names = [f"{run.path} ({n})" for n, run in enumerate(same, 1)]
        for run, told in zip(same, names, strict=True):
            run.name = told


def _job_name(job: TrackedJob) -> str:
    return f"{job.key or 'seq ' + str(job.seq)} ({job.job_id})"


def read_report(
    sources: Sequence[str | os.PathLike[str]],
    *,
    step_label: str,
    samples_job: JobRef | None,
    max_samples: int,
    compare_jobs: tuple[JobRef, JobRef] | None = None,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
) -> ReportData:
    """Everything a report of ``sources`` shows; samples and comparison from the first."""
    if not sources:
        raise InvalidArgumentError("a report needs at least one run ledger")
    check_count("max_samples", max_samples, 0)
    if not isinstance(step_label, str) or not step_label:
        raise InvalidArgumentError(f"step_label must be a label's name (a str), not {step_label!r}")
    if compare_jobs is not None and (
        not isinstance(compare_jobs, (tuple, list)) or len(compare_jobs) != 2
    ):
        raise InvalidArgumentError(
            "compare_jobs must be two jobs (seqs or keys), e.g. (3, 'step-600'), not "
            f"{compare_jobs!r}"
        )
    if path_map is not None:
        check_path_map(path_map)  # before anything is read
    runs = [read_run(source, path_map=path_map, filesystem=filesystem) for source in sources]
    _tell_apart(runs)
    data = ReportData(runs=runs, step_label=step_label)
    first = runs[0].source
    if samples_job is not None:
        data.samples = read_samples(
            first, samples_job, max_samples, path_map=path_map, filesystem=filesystem
        )
    if compare_jobs is not None:
        data.comparison = read_comparison(
            first, *compare_jobs, path_map=path_map, filesystem=filesystem
        )
    return data
