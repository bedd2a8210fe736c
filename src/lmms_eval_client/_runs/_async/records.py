"""What a run's ledger holds, read and annotated: jobs, outcomes, history, summaries, and
the run as one table of metrics (``table.py``).

A mixin of AsyncEvalRun (``run.py``); every ledger call runs off the event loop.
Hand-written source of ``_sync/records.py`` (``make generate``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from ..._checks import check_names
from ..._http._async._io import run_sync
from ..._lazy import LazyModule
from ..errors import LedgerError
from ..ledger import Ledger
from ..ledger_keys import job_by_seq_or_key
from ..options import RetryOnFailure, check_json_object
from ..servers import client_for

if TYPE_CHECKING:
    from pathlib import Path

    import pandas

    from ..._client._async.client import AsyncEvalClient
    from ..._pool._async.pool import AsyncEvalPool
    from ..._report.compare import Comparison
    from .. import outcomes as _outcomes
    from .. import table as _table
    from ..outcomes import JobOutcome, Observation, TrackedJob
    from ..table import MetricRow
    from .polling import AsyncRunPoller
else:  # pydantic's models load with the first outcome or table (an evaluation run's import: not)
    _outcomes = LazyModule("lmms_eval_client._runs.outcomes")
    _table = LazyModule("lmms_eval_client._runs.table")


class AsyncRunRecords:
    """The ledger reads of a run (see AsyncEvalRun)."""

    _ledger: Ledger
    _retry: RetryOnFailure | None
    _client: AsyncEvalClient | AsyncEvalPool
    _poller: AsyncRunPoller

    async def _recorded_here(self, job: TrackedJob) -> bool:
        """Whether this run recorded the job's intent (it sent it), not another process
        submitting under the same key at the same time (the command line's and a
        watcher's "submitted"); True when the ledger cannot say now: the job is there."""
        sql = "SELECT owner FROM jobs WHERE seq = ?"
        try:
            rows = await run_sync(partial(self._ledger.rows, sql, (job.seq,)))
        except LedgerError:
            return True
        return bool(rows) and rows[0]["owner"] == self._poller._owner

    async def jobs(self) -> list[TrackedJob]:
        """Every job of the ledger (every attempt), with its labels and last known state."""
        return await run_sync(self._ledger.jobs)

    async def job(self, which: int | str) -> TrackedJob:
        """The ledger's current record of one job: by its ``seq`` (that attempt), or by the
        key it was submitted under (the last attempt of that submission; a str of digits
        under which no job was submitted names the seq).

        Raises:
            UnknownJobError: No job has that seq, or none was submitted under that key.

        Example::

            job = await run.job("step-100")  # or run.job(3), by seq
            print(job.state, job.job_id)
        """
        return await run_sync(partial(job_by_seq_or_key, self._ledger, which))

    async def outcome(self, job: TrackedJob | int) -> JobOutcome | None:
        """The outcome of a job's last attempt (None while pending), whether harvested or not."""
        seq = job if isinstance(job, int) else job.seq
        return await run_sync(partial(self._outcome_of, seq))

    def _outcome_of(self, seq: int) -> JobOutcome | None:
        current = self._ledger.job(seq)
        while current.retried_by is not None:
            current = self._ledger.job(current.retried_by)
        if self._retry is not None and self._retry.wants(current):
            return None  # its retry is still to be sent
        return _outcomes.outcome_of(current)

    async def history(self, job: TrackedJob | int) -> list[Observation]:
        """Everything the ledger recorded about a job, oldest first."""
        seq = job if isinstance(job, int) else job.seq
        return await run_sync(partial(self._ledger.history, seq))

    async def record_summary(self, job: TrackedJob | int, summary: Mapping[str, Any]) -> TrackedJob:
        """Attach a results summary (JSON data) to a job in the ledger; the job's rows of
        ``metrics()`` are then derived from it (when it has the default shape)."""
        seq = job if isinstance(job, int) else job.seq
        checked = check_json_object("summary", summary)
        return await run_sync(partial(self._ledger.record_summary, seq, checked))

    # -- the run as a table ------------------------------------------------------------

    async def metrics(self, task: str | None = None, metric: str | None = None) -> list[MetricRow]:
        """The run as a table: one row per completed job x task x metric, in seq order.

        A job counts once: its final attempt (superseded attempts of a retried job, and
        failed, cancelled and lost jobs, give no rows). Each row carries the job's seq,
        key and labels, the model its results are filed under, the value and its stderr
        (lmms-eval's ``"<metric>_stderr,<filter>"``) and the metric's direction. ``task``
        and ``metric`` keep only those rows (of every model). A job whose summary is of
        the default shape has rows; one summarised by a ``summarize=`` of another shape
        has none. One query of the ledger, whatever its size.

        Example::

            for row in run.metrics(task="mme", metric="exact_match"):
                print(row.labels["step"], row.model, row.value, "+-", row.stderr)
        """
        check_names(task=task, metric=metric)
        records = await run_sync(
            partial(self._ledger.rows, _table.TABLE_QUERY, _table.TABLE_PARAMS)
        )
        return _table.table_rows(records, self._ledger.path, task=task, metric=metric)

    async def to_pandas(self) -> pandas.DataFrame:
        """``metrics()`` as a pandas DataFrame (needs the ``pandas`` extra).

        Columns: seq, key, one per label (a label named like another column, or beginning
        with ``label.``, is prefixed ``label.``), model, task, metric, filter, value,
        stderr, higher_is_better.
        Raises MissingDependencyError when pandas is not installed.

        Example::

            frame = run.to_pandas()
            frame.query("metric == 'exact_match'").plot(x="step", y="value")
        """
        return _table.table_frame(await self.metrics())

    async def best(
        self,
        task: str,
        metric: str,
        filter: str | None = None,
        *,
        higher_is_better: bool | None = None,
    ) -> MetricRow | None:
        """The row of the completed job with the best ``task``: ``metric``, by the metric's
        direction; the earliest seq of equal ones; None when no job has a value for it.

        The direction is what the results say, else ``higher_is_better`` (which, given,
        always decides). Raises InvalidArgumentError when neither says it, or when the
        metric has several filters in the run and ``filter`` names none of them.

        Example::

            top = run.best("mme", "exact_match")
            if top is not None:
                print("best checkpoint:", top.labels["step"], top.value)
        """
        check_names(task=task, metric=metric, filter=filter)
        rows = await self.metrics(task=task, metric=metric)
        return _table.best_row(rows, task, metric, filter, higher_is_better)

    # -- the report and comparisons (_report/) ----------------------------------------

    def _files_of(self, server: str | None = None) -> dict[str, Any]:
        """How results are read here: the path_map / filesystem of ``server``'s client
        (over a pool without ``server``, its first client's)."""
        clients = getattr(self._client, "clients", None)
        client: Any = self._client
        if clients is not None:
            by_url = dict(zip(self._client.servers, clients, strict=True))  # type: ignore[union-attr]
            client = (server and client_for(by_url, server)) or clients[0]
        return {"path_map": client.path_map, "filesystem": client.filesystem}

    async def report(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write this run's HTML report to ``path`` (see ``write_report`` for ``options``:
        step_label, samples_job, max_samples, compare_jobs, title, path_map, filesystem);
        return its path. Results and logs are read through the run's client's path_map and
        filesystem unless ``options`` gives its own, which then decide (None too: no path
        map but ``$LMMS_EVAL_PATH_MAP``, no fsspec filesystem, as ``write_report`` reads).

        Example::

            print(run.report("report.html", samples_job="step-600"))
        """
        from ..._report import write_report

        options = {**self._files_of(), **options}  # the caller's path_map / filesystem win
        return await run_sync(partial(write_report, self._ledger.target, path, **options))

    async def compare(self, a: int | str, b: int | str) -> Comparison:
        """Compare two completed jobs of this run (by seq or key) sample by sample:
        per task x metric lmms-eval's paired t-test of ``a - b``, and the samples that
        flipped (see ``compare``). Raises UnknownJobError, InvalidArgumentError for a job
        that did not complete, and the results errors of ``compare``.

        Example::

            print(run.compare("step-100", "step-600").table())
        """
        from ..._report.data import read_comparison

        job = await self.job(a)
        files = self._files_of(job.server)
        return await run_sync(partial(read_comparison, self._ledger.target, a, b, **files))
