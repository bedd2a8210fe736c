"""A completed job's results summary, read and recorded in one worker-thread call.

The run's poller (``_async/polling.py``) hands it each completed job (and each lost job
recovered from its folder): the summariser reads files, so none of it runs on an event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .._lazy import LazyModule
from .ledger import Ledger
from .options import check_json_object

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo

    from .._results import files as _files
    from .._results.file_access import FileSystem
    from .._results.path_map import PathMap
else:  # the results reading loads with the first summary (an evaluation run's import: not)
    _files = LazyModule("lmms_eval_client._results.files")

logger = logging.getLogger("lmms_eval_client")

Summarize = Callable[["JobInfo"], "Mapping[str, Any] | None"]


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
