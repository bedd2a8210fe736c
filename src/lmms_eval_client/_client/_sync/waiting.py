# GENERATED FILE from src/lmms_eval_client/_client/_async/waiting.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""The loop of wait_for_job, for the client and the pool: poll, tell the waiter, sleep.

Generated from ``_client/_async/waiting.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..._exceptions import LmmsEvalError
from ..._http._sync._io import sleep
from ..arguments import check_job_id
from ..wait import WaitedJob, Waiter, progress_line

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo


class SyncJobWaiting:
    """``_wait_for_job`` over the subclass's ``_poll_waited``; the clock and the sleep of
    every wait of the class (tests replace them)."""

    _sleep = staticmethod(sleep)
    _clock = staticmethod(time.monotonic)

    def _poll_waited(
        self, job_id: str, deadline: float | None, retry: bool, server: int | None = None
    ) -> JobInfo:
        """One poll of the job waited for: ends by ``deadline``, retried only if ``retry``;
        ``server``: the pool's server the caller named (its index), None for a client."""
        raise NotImplementedError

    def _says_where(self, error: LmmsEvalError, server: int | None = None) -> bool:
        """Whether a failed poll still says where the job is (``server``: the one the
        caller named, if any): then a wait without a deadline rides it out even before
        any answer (see ``Waiter.setback``)."""
        return False

    def _wait_for_job(
        self,
        job_id: str,
        poll_interval: float,
        timeout: float | None,
        verbose: bool,
        server: int | None = None,
    ) -> JobInfo:
        """Poll the job until its wait ends; the completed job, else raise why it ended."""
        waited = WaitedJob(check_job_id(job_id))
        waiter = Waiter([waited], poll_interval, timeout, clock=self._clock)
        while True:
            try:
                job = self._poll_waited(
                    waited.job_id, waiter.deadline, waiter.may_retry_poll, server
                )
            except LmmsEvalError as exc:
                waiter.setback(waited, exc, answered=self._says_where(exc, server))  # or raised
            else:
                if waiter.observe(waited, job) and verbose:
                    print(progress_line(waited), flush=True)
            delay = waiter.next_delay()
            if delay is None:
                waiter.time_out()
                return waited.result()
            self._sleep(delay)
