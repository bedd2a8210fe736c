# GENERATED FILE from src/lmms_eval_client/_client/_async/results.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""The results methods of EvalClient: reading the files a completed job wrote.

Generated from ``_client/_async/results.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from ..._checks import check_count
from ..._http._sync._io import run_sync
from ..._http.config import DEFAULT_LOG_LINES
from ..._lazy import LazyModule

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo, JobSubmitResponse

    from ..._results import eval_log as _eval_log
    from ..._results import files as _files
    from ..._results.file_access import FileSystem
    from ..._results.results import EvalResults
else:  # the results models: loaded when results are read, not with the client
    _files = LazyModule("lmms_eval_client._results.files")
    _eval_log = LazyModule("lmms_eval_client._results.eval_log")

JobRef: TypeAlias = "JobInfo | JobSubmitResponse | str"
"""A job: its JobInfo (used as it is), what evaluate() returned, or its id (fetched)."""
T = TypeVar("T")


class SyncResultReading:
    """``load_results``, ``load_all_results`` and ``eval_log`` of the client."""

    _path_map: dict[str, str]
    _filesystem: FileSystem | None

    if TYPE_CHECKING:

        def get_job(self, job_id: str) -> JobInfo: ...

    def _job(self, job: JobRef) -> JobInfo:
        from lmms_eval_api.models import JobInfo, JobSubmitResponse

        if isinstance(job, JobInfo):
            return job
        return self.get_job(job.job_id if isinstance(job, JobSubmitResponse) else job)

    def _read(self, job: JobRef, read: Callable[..., T], **options: Any) -> T:
        """``read(info, **options)`` of the job's files, through the client's path_map and
        filesystem (``run_sync``: the async client reads in a worker thread)."""
        info = self._job(job)
        return run_sync(
            partial(read, info, path_map=self._path_map, filesystem=self._filesystem, **options)
        )

    def load_results(self, job: JobRef, *, model: str | None = None) -> EvalResults:
        """The metrics and details of a completed job, read from the results file it wrote.

        Args:
            job: The completed job's JobInfo (e.g. what ``wait_for_job`` returned), or its id.
            model: Which model's results, for the rare job with several (the folder name
                lmms-eval derived, or the ``pretrained`` name it came from).

        Returns:
            EvalResults: ``.metric(task, name)``, ``.metrics``, ``.table()``, ``.samples(task)``.

        Raises:
            ResultsUnavailableError: The job did not complete, or wrote no results.
            ResultsNotReachableError: The file is on the server's disk and not reachable
                here: set ``path_map`` (or ``$LMMS_EVAL_PATH_MAP``) or ``filesystem``.
            ResultsFormatError: The file is not a results file lmms-eval writes.

        Example (on the async client, each call is awaited)::

            done = client.wait_for_job(job.job_id)
            results = client.load_results(done)
            print(results.metric("mme", "exact_match").value)
        """
        _files.check_model(model)  # before the job is asked for
        return self._read(job, _files.load_job_results, model=model)

    def load_all_results(self, job: JobRef) -> dict[str, EvalResults]:
        """The EvalResults of every model the server lists for a completed job, by model
        name: only the job's own (the folder lmms-eval named after its model_args) when
        other jobs wrote to its output_dir too.

        Raises the same errors as ``load_results``.
        """
        return self._read(job, _files.results_of_job)

    def eval_log(self, job: JobRef, lines: int = DEFAULT_LOG_LINES) -> str:
        """The last lines of a job's evaluation log (``eval-*.log`` in its output_dir).

        Colour codes are removed and secrets (``api_key=...``, bearer tokens) masked.

        Raises:
            ResultsUnavailableError: The job names no log and has no known output_dir.
            ResultsNotReachableError: The log is not reachable from this machine.
        """
        check_count("lines", lines, 0)  # before the job is fetched
        return self._read(job, _eval_log.eval_log_tail, lines=lines)
