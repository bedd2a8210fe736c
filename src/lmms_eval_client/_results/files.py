"""A job's results files, per model (its evaluation log: ``eval_log``).

What the clients call for ``load_results``. File reading is synchronous,
pure and thread-safe: the async client runs these functions in a worker thread.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

from .._exceptions import InvalidArgumentError
from .._text import failure_reason, shown
from .bounded import DEFAULT_MAX_RESULTS_BYTES
from .errors import ResultsError, ResultsUnavailableError, require
from .file_access import FileLocation, FileSystem, server_location
from .metrics import json_number
from .naming import results_folder, sanitize_model_name
from .path_map import PathMap
from .redaction import redacted_error
from .results import EvalResults, task_of_samples_file

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo, ModelResultFiles


def status_of(job: JobInfo) -> str:
    """A job's status as text (an InvalidArgumentError for what is not a JobInfo)."""
    from lmms_eval_api.models import JobInfo  # loaded with the first job anyway

    if not isinstance(job, JobInfo):
        raise InvalidArgumentError(
            f"job must be a JobInfo (e.g. client.get_job(job_id)), got {shown(job)}"
        )
    return str(getattr(job.status, "value", job.status))


def job_result_files(job: JobInfo) -> dict[str, ModelResultFiles]:
    """The result files of a completed job, by model name (paths on the server's disk).

    The server lists every model folder of the job's output_dir: when several jobs wrote
    to it, only the folder lmms-eval named after this job's model_args is the job's own
    (when it is among them, the others are left out). Raises
    :class:`ResultsUnavailableError` when the job is not completed (for a failed one, with
    the line of its error that says why, as ``wait_for_job`` gives it) or lists none.

    >>> job_result_files(done)["stub-model"].results
    '/srv/evals/a/stub-model/20261202_055237_results.json'
    """
    status = status_of(job)
    if status != "completed":
        if status == "failed":
            # The line that says why, as wait and status give it (a 0.7.3 server's error
            # begins "Evaluation produced no parsed results. Last lines of ...log:").
            why = f"failed, so it has no results: {failure_reason(redacted_error(job))}"
        elif status == "cancelled":
            why = "was cancelled, so it has no results"
        else:
            why = f"is {status}: it has results once it has completed (wait_for_job first)"
        raise ResultsUnavailableError(f"Job {job.job_id} {why}", job_id=job.job_id, status=status)
    files = {name: entry for name, entry in (job.result or {}).items() if entry.results}
    if not files:
        raise ResultsUnavailableError(
            f"Job {job.job_id} completed but the server lists no results file",
            job_id=job.job_id,
            status=status,
        )
    own = results_folder(job.request.model_args) if job.request is not None else ""
    return {own: files[own]} if len(files) > 1 and own in files else files


def _load(
    job: JobInfo,
    files: ModelResultFiles,
    path_map: PathMap | None,
    fs: FileSystem | None,
    max_bytes: int,
) -> EvalResults:
    assert files.results is not None  # job_result_files keeps only entries that have one
    samples: dict[str, FileLocation] = {}
    for path in files.samples:
        task = task_of_samples_file(os.path.basename(path))
        if task is not None:
            samples[task] = server_location(path, path_map=path_map, filesystem=fs)
    location = server_location(files.results, path_map=path_map, filesystem=fs)
    return EvalResults.from_location(location, sample_files=samples, max_bytes=max_bytes)


def results_of_job(
    job: JobInfo,
    *,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
    max_bytes: int = DEFAULT_MAX_RESULTS_BYTES,
) -> dict[str, EvalResults]:
    """The :class:`EvalResults` of every model the server lists for a completed job (only
    the job's own when others wrote to its output_dir too: ``job_result_files``), by model
    name.

    The server's paths are mapped by ``path_map`` (else ``$LMMS_EVAL_PATH_MAP``) and read
    locally, through fsspec for URLs, or on ``filesystem``. Raises
    :class:`ResultsUnavailableError` when the job has no results,
    :class:`ResultsNotReachableError` when a file cannot be reached from here, and
    :class:`ResultsTooLargeError` for a results file beyond ``max_bytes`` (256 MiB).

    >>> done = client.wait_for_job(job.job_id)
    >>> for model, results in results_of_job(done).items():
    ...     print(model, results.metric("e2e_arith", "exact_match").value)
    """
    return {
        name: _load(job, files, path_map, filesystem, max_bytes)
        for name, files in job_result_files(job).items()
    }


def load_job_results(
    job: JobInfo,
    *,
    model: str | None = None,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
    max_bytes: int = DEFAULT_MAX_RESULTS_BYTES,
) -> EvalResults:
    """The :class:`EvalResults` of one model of a completed job (what ``load_results`` gives).

    ``model`` picks one when the job has several; it is the folder name lmms-eval derived
    from model_args (``"Qwen/Qwen2-VL-2B-Instruct"`` also finds ``Qwen__Qwen2-VL-2B-Instruct``).
    Only that model's file is read, at most ``max_bytes`` of it.

    >>> results = load_job_results(client.wait_for_job(job.job_id))
    """
    files = job_result_files(job)
    model = check_model(model)
    if model is None:
        if len(files) > 1:
            raise InvalidArgumentError(
                f"Job {job.job_id} has results for several models ({', '.join(files)}): pass "
                "model= one of them, or use results_of_job() for all"
            )
        chosen = next(iter(files))
    elif model in files:
        chosen = model
    elif sanitize_model_name(model) in files:
        chosen = sanitize_model_name(model)
    else:
        raise InvalidArgumentError(
            f"Job {job.job_id} has no results for model {model!r}; it has: {', '.join(files)}"
        )
    return _load(job, files[chosen], path_map, filesystem, max_bytes)


def check_model(model: object) -> str | None:
    """``model=`` of a results read: None or a str, else InvalidArgumentError (checked
    before a server is asked for the job)."""
    if model is not None:
        require("model", model, str, "a str (a model's results folder, or its model_args name)")
    return cast("str | None", model)


Summary = dict[str, dict[str, dict[str, float | str | None]]]


def results_summary(
    job: JobInfo, *, path_map: PathMap | None = None, filesystem: FileSystem | None = None
) -> Summary | None:
    """A completed job's metrics as JSON data, ``{model: {task: {"name,filter": value}}}``;
    None when its results files cannot be read here (an evaluation run's default summary).

    A value is a number, None when the file holds none, or for NaN and the infinities
    (strict JSON has no such numbers) ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, which
    ``float()`` reads back.

    >>> results_summary(done)
    {'Qwen__Qwen2-VL-2B-Instruct': {'mme': {'exact_match,none': 0.625}}}
    """
    read = summary_and_metric_rows(job, path_map=path_map, filesystem=filesystem)
    return None if read is None else read[0]


def summary_and_metric_rows(
    job: JobInfo, *, path_map: PathMap | None = None, filesystem: FileSystem | None = None
) -> tuple[Summary, list[dict[str, float | str | bool | None]]] | None:
    """One read of a completed job's results files: :func:`results_summary`'s summary, and
    a row per model x task x metric as JSON data (what an evaluation run's ledger keeps
    for its table): ``model``, ``task``, ``metric``, ``filter``, ``value``, ``stderr``
    (numbers as in the summary) and ``higher_is_better`` (None when the file says nothing).
    None when the files cannot be read here.

    >>> summary, rows = summary_and_metric_rows(done)
    >>> rows[0]
    {'model': 'stub-model', 'task': 'e2e_arith', 'metric': 'exact_match', 'filter': 'none',
     'value': 0.8, 'stderr': 0.19999999999999998, 'higher_is_better': True}
    """
    try:
        by_model = results_of_job(job, path_map=path_map, filesystem=filesystem)
    except ResultsError:
        return None
    summary: Summary = {}
    rows: list[dict[str, float | str | bool | None]] = []
    for model, results in by_model.items():
        tasks = summary.setdefault(model, {})
        for metric in results.metrics:
            value = json_number(metric.value)
            tasks.setdefault(metric.task, {})[f"{metric.name},{metric.filter}"] = value
            rows.append(
                {
                    "model": model,
                    "task": metric.task,
                    "metric": metric.name,
                    "filter": metric.filter,
                    "value": value,
                    "stderr": json_number(metric.stderr),
                    "higher_is_better": metric.higher_is_better,
                }
            )
    return summary, rows
