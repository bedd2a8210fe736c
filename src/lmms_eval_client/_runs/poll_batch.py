"""The per-job work of reading one server's queue, done in one batch in a worker thread.

A poll reads ``GET /queue`` once per server; every pending job is then either shown by it
(queued or running: its state is recorded if it changed) or gone from it (finished, or
forgotten: read by ``GET /jobs/{id}``, one by one, on the event loop). With thousands of
jobs pending, sorting them is work an ``AsyncEvalRun`` must not do on its event loop: the
poller hands it to ``sort_by_queue`` in one ``run_sync`` call.
"""

from __future__ import annotations

from collections.abc import Iterable

from lmms_eval_api.models import QueueStatusResponse

from .ledger import Ledger
from .ledger_reads import Watched
from .outcomes import QUEUED, RUNNING


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
