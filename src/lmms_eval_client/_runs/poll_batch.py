"""The per-job work of reading one server's queue, done in one batch in a worker thread.

A poll reads ``GET /queue`` once per server; every pending job is then either shown by it
(queued or running: its state is recorded if it changed) or gone from it (finished, or
forgotten: read by ``GET /jobs/{id}``, one by one, on the event loop). With thousands of
jobs pending, sorting them is work an ``AsyncEvalRun`` must not do on its event loop: the
poller hands it to ``sort_by_queue`` in one ``run_sync`` call, through a ``QueueSorter``
that skips even that when neither the rows nor the queue changed since the last poll.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .ledger import Ledger
from .ledger_reads import Watched
from .states import QUEUED, RUNNING

if TYPE_CHECKING:
    from lmms_eval_api.models import QueueStatusResponse


def sort_by_queue(
    ledger: Ledger, watched: Iterable[Watched], queue: QueueStatusResponse
) -> list[Watched]:
    """Record the new state of each watched job that its server's ``queue`` shows in
    another state (queued or running); the jobs it does not show."""
    live = dict.fromkeys(queue.queued_jobs, QUEUED)
    if queue.running_job:
        live[queue.running_job] = RUNNING
    gone = []
    for row in watched:
        state = live.get(row.job_id)
        if state is None:
            gone.append(row)
        elif state != row.state:
            ledger.record_status(row.seq, state, None)
    return gone


class QueueSorter:
    """``sort_by_queue`` per server, remembered: when the watched rows are the very list of
    the last poll (``WatchedRows`` read nothing new: the ledger did not change, so that poll
    recorded no state) and the queue is the same, the answer is the same (the jobs gone from
    the queue, read again), with nothing to record: an idle poll of 10,000 jobs compares two
    lists instead of sorting every job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[list[Watched], list[str], str | None, list[Watched]]] = {}

    def sort(
        self, ledger: Ledger, server: str, watched: list[Watched], queue: QueueStatusResponse
    ) -> list[Watched]:
        """The jobs of ``watched`` its server's ``queue`` does not show (see sort_by_queue)."""
        with self._lock:
            last = self._last.get(server)
            if (
                last is not None
                and last[0] is watched
                and last[2] == queue.running_job
                and last[1] == queue.queued_jobs
            ):
                return last[3]
            gone = sort_by_queue(ledger, watched, queue)
            self._last[server] = (watched, queue.queued_jobs, queue.running_job, gone)
            return gone
