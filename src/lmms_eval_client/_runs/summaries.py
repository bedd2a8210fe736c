"""A completed job's results summary, read and recorded in one worker-thread call.

The run's poller (``_async/polling.py``) hands it each completed job (and each lost job
recovered from its folder): the summariser reads files, so none of it runs on an event loop.
``MissedSummaries``: the completed jobs a run reads again, left without a summary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .._lazy import LazyModule
from .ledger import Ledger
from .options import check_json_object
from .states import COMPLETED

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo

    from .._results import files as _files
    from .._results.file_access import FileSystem
    from .._results.path_map import PathMap
    from .outcomes import TrackedJob
else:  # the results reading loads with the first summary (an evaluation run's import: not)
    _files = LazyModule("lmms_eval_client._results.files")

logger = logging.getLogger("lmms_eval_client")

Summarize = Callable[["JobInfo"], "Mapping[str, Any] | None"]
MISSED_BATCH = 20  # completed jobs without a summary read again per poll at most


def record_summary(
    ledger: Ledger,
    summarize: Summarize | Literal["results"],
    info: JobInfo,
    seq: int,
    *,
    path_map: PathMap | None,
    filesystem: FileSystem | None,
    run: object,
    quiet: bool = False,
) -> str | None:
    """Summarise a completed job and record it; why it failed, if it did (never empty): a
    summariser's failure is logged (as ``run``'s; ``quiet``: for debugging only, the caller
    says it), results this machine cannot read are not (the default's: a remote server's
    without a path map), and neither is raised: it must not stop the run. The ledger's
    failures are raised."""
    summary: Mapping[str, Any] | None
    rows: list[dict[str, Any]] | None = None  # the metric rows, read with the summary
    try:
        if summarize == "results":  # one read, with the job's server's client's paths
            read = _files.summary_and_metric_rows(info, path_map=path_map, filesystem=filesystem)
            if read is None:
                return "its results files cannot be read here (its client's path_map?)"
            summary, rows = read
        else:
            summary = summarize(info)
        if summary is None:
            return None
        # Checked here: a summary JSON cannot hold (NaN, ...) is the reader's failure.
        checked = check_json_object("summary", summary)
    except Exception as exc:  # a reader's failure must not stop the run
        level = logging.DEBUG if quiet else logging.WARNING
        why = f"{type(exc).__name__}: {exc}".rstrip(": ")  # (a ValueError() says nothing)
        logger.log(level, "Evaluation run %s: summarising job %s failed: %s", run, seq, why)
        return why
    ledger.record_summary(seq, checked, rows)
    return None


class MissedSummaries:
    """Completed jobs with neither summary nor metric rows, each read again once by a run
    (object), a batch a poll: a process killed between recording a job completed and its
    summary (the results read in between), or one that could not read them (no path map),
    left it so, and a completed job is not polled again: its metrics reached neither the
    table nor the sinks. Looked for only when the ledger changed (an idle poll: no read)."""

    def __init__(self) -> None:
        self._version: object = None

    def due(self, ledger: Ledger, tried: set[int]) -> list[TrackedJob]:
        """The next of them not in ``tried`` (the jobs this run summarised, or tried to:
        added to it, each read once, its failure said once)."""
        version = ledger.store.changes()
        if version == self._version:
            return []
        rows = ledger.rows(
            "SELECT seq FROM jobs WHERE state = ? AND summary IS NULL AND metrics IS NULL "
            "AND info NOTNULL ORDER BY seq",
            (COMPLETED,),
        )
        untried = [int(row["seq"]) for row in rows if int(row["seq"]) not in tried]
        if len(untried) <= MISSED_BATCH:
            self._version = version  # all seen: not looked for again until the ledger changes
        batch = untried[:MISSED_BATCH]
        tried.update(batch)
        return [ledger.job(seq) for seq in batch]
