"""What a run's ledger holds, read and annotated: jobs, outcomes, history, summaries.

A mixin of AsyncEvalRun (``run.py``); every ledger call runs off the event loop.
Hand-written source of ``_sync/records.py`` (``make generate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..._http._async._io import run_sync
from ..ledger import Ledger
from ..ledger_keys import job_by_seq_or_key
from ..options import RetryOnFailure, check_json_object
from ..outcomes import JobOutcome, Observation, TrackedJob, outcome_of


class AsyncRunRecords:
    """The ledger reads of a run (see AsyncEvalRun)."""

    _ledger: Ledger
    _retry: RetryOnFailure | None

    async def jobs(self) -> list[TrackedJob]:
        """Every job of the ledger (every attempt), with its labels and last known state."""
        return await run_sync(self._ledger.jobs)

    async def job(self, which: int | str) -> TrackedJob:
        """The ledger's current record of one job: by its ``seq`` (that attempt), or by the
        key it was submitted under (the last attempt of that submission).

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
        return outcome_of(current)

    async def history(self, job: TrackedJob | int) -> list[Observation]:
        """Everything the ledger recorded about a job, oldest first."""
        seq = job if isinstance(job, int) else job.seq
        return await run_sync(partial(self._ledger.history, seq))

    async def record_summary(self, job: TrackedJob | int, summary: Mapping[str, Any]) -> TrackedJob:
        """Attach a results summary (JSON data) to a job in the ledger."""
        seq = job if isinstance(job, int) else job.seq
        checked = check_json_object("summary", summary)
        return await run_sync(partial(self._ledger.record_summary, seq, checked))
