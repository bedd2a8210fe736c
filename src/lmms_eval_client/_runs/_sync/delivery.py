# GENERATED FILE from src/lmms_eval_client/_runs/_async/delivery.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""How a run hands out what finished: ``ready``, ``harvest``, ``as_completed`` and ``wait``.

Generated from ``_runs/_async/delivery.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial

from ..._client.wait import Deadline, check_wait_timeout
from ..._http._sync._io import run_sync, sleep
from ..errors import UncoveredServersError
from ..options import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    ReturnWhen,
    WaitResult,
    check_return_when,
    run_timeout,
)
from ..outcomes import JobOutcome, TrackedJob, outcome_of
from ..servers import by_server, covering, uncovered_jobs
from .polling import RunPoller
from .records import RunRecords


class RunDelivery(RunRecords):
    """The delivery of a run's outcomes (see EvalRun)."""

    _sleep = staticmethod(sleep)
    _clock = staticmethod(time.monotonic)
    _poller: RunPoller
    _poll_interval: float

    def _servers(self) -> tuple[str, ...]:
        raise NotImplementedError  # the run's: its client's servers

    def _finished(self) -> list[JobOutcome]:
        outcomes = []
        for job in run_sync(self._ledger.unharvested):
            if self._retry is not None and self._retry.wants(job):
                continue  # its retry is still to be sent: pending
            outcome = outcome_of(job)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _pending(self) -> list[TrackedJob]:
        servers = self._servers()
        pending = run_sync(self._ledger.unfinished)
        if self._retry is not None:
            retry = self._retry
            pending += [job for job in run_sync(self._ledger.unharvested) if retry.wants(job)]
        pending = [job for job in pending if covering(servers, job.server) is not None]
        return sorted(pending, key=lambda job: job.seq)

    def _raise_if_uncovered(self) -> None:
        """Nothing pending here: say so if jobs are pending on servers the run does not reach
        (they would never finish in this loop)."""
        servers = self._servers()
        left = run_sync(partial(uncovered_jobs, self._ledger, servers, self._retry))
        if left:
            raise UncoveredServersError.of(self._ledger.path, by_server(left), list(servers))

    def ready(self) -> list[JobOutcome]:
        """Poll once; the outcomes of finished jobs not yet harvested (without taking them).

        Non-blocking: one poll, no waiting for jobs.
        """
        self._poller.poll()
        return self._finished()

    def harvest(self) -> list[JobOutcome]:
        """Poll once; take the outcomes of the jobs that finished since the last harvest.

        Each finished job is harvested once per ledger (the ledger records it, so a
        restarted process does not get them again, and of processes harvesting one ledger
        together each outcome goes to one). Non-blocking: one poll.

        Example::

            for outcome in run.harvest():
                print(outcome.labels["epoch"], outcome.kind)
        """
        outcomes = self.ready()
        seqs = [outcome.job.seq for outcome in outcomes]
        claimed = run_sync(partial(self._ledger.mark_harvested, seqs))
        return [outcome for outcome in outcomes if outcome.job.seq in claimed]

    def as_completed(self, timeout: float | None = None) -> Iterator[JobOutcome]:
        """The outcomes of the run's jobs as they finish, until none is pending.

        Each outcome is harvested as it is handed to the loop (once per ledger, as by
        ``harvest``: another process's loop or harvest never gets it too).

        Args:
            timeout: Seconds in all (None: as long as it takes).

        Raises:
            RunTimeoutError: The timeout passed with jobs pending (they go on running).
            UncoveredServersError: Nothing is pending on the run's servers, but jobs are on
                servers its client does not reach (``rehome`` them).

        Example::

            for outcome in run.as_completed(timeout=3600):
                print(outcome.labels, outcome.kind)
        """
        deadline = self._deadline(timeout)
        while True:
            self._poller.poll()
            for outcome in self._finished():
                # Claimed before it is handed over: another process may be harvesting too.
                if run_sync(partial(self._ledger.mark_harvested, [outcome.job.seq])):
                    yield outcome
            pending = self._pending()
            if not pending:
                self._raise_if_uncovered()
                return
            delay = deadline.next_delay()
            if delay is None:
                raise run_timeout(pending, deadline.timeout or 0.0)
            self._sleep(delay)

    def wait(
        self, timeout: float | None = None, return_when: ReturnWhen = ALL_COMPLETED
    ) -> WaitResult:
        """Poll until every job has finished (or, with FIRST_COMPLETED, one has); nothing is
        harvested. Returns at the timeout too, with what is still pending.

        Args:
            timeout: Seconds at most (None: as long as it takes).
            return_when: ``ALL_COMPLETED`` or ``FIRST_COMPLETED`` (a finished job not yet
                harvested counts at once).

        Returns:
            ``WaitResult(done, pending)``: the outcomes not yet harvested, the pending jobs.

        Raises:
            UncoveredServersError: Nothing is pending on the run's servers, but jobs are on
                servers its client does not reach (``rehome`` them).
        """
        deadline = self._deadline(timeout)
        check_return_when(return_when)
        while True:
            self._poller.poll()
            done, pending = self._finished(), self._pending()
            if return_when == FIRST_COMPLETED and done:
                return WaitResult(done, pending)
            if not pending:
                self._raise_if_uncovered()
                return WaitResult(done, pending)
            delay = deadline.next_delay()
            if delay is None:
                return WaitResult(done, pending)
            self._sleep(delay)

    def _deadline(self, timeout: float | None) -> Deadline:
        """The deadline of a wait for the run's jobs: the SDK's one rule of waits."""
        return Deadline(self._poll_interval, check_wait_timeout(timeout), self._clock)
