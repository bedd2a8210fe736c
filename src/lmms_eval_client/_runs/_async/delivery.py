"""How a run hands out what finished: ``ready``, ``harvest``, ``as_completed`` and ``wait``.

A mixin of AsyncEvalRun (``run.py``): the polls and sleeps of handing outcomes out, over
the ledger's claims. Hand-written source of ``_sync/delivery.py`` (``make generate``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from functools import partial

from ..._client.wait import Deadline, check_wait_timeout
from ..._http._async._io import run_sync, sleep
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
from .polling import AsyncRunPoller
from .records import AsyncRunRecords


class AsyncRunDelivery(AsyncRunRecords):
    """The delivery of a run's outcomes (see AsyncEvalRun)."""

    _sleep = staticmethod(sleep)
    _clock = staticmethod(time.monotonic)
    _poller: AsyncRunPoller
    _poll_interval: float

    def _servers(self) -> tuple[str, ...]:
        raise NotImplementedError  # the run's: its client's servers

    async def _finished(self) -> list[JobOutcome]:
        outcomes = []
        for job in await run_sync(self._ledger.unharvested):
            if self._retry is not None and self._retry.wants(job):
                continue  # its retry is still to be sent: pending
            outcome = outcome_of(job)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    async def _pending(self) -> list[TrackedJob]:
        servers = self._servers()
        pending = await run_sync(self._ledger.unfinished)
        if self._retry is not None:
            retry = self._retry
            pending += [job for job in await run_sync(self._ledger.unharvested) if retry.wants(job)]
        pending = [job for job in pending if covering(servers, job.server) is not None]
        return sorted(pending, key=lambda job: job.seq)

    async def _raise_if_uncovered(self) -> None:
        """Nothing pending here: say so if jobs are pending on servers the run does not reach
        (they would never finish in this loop)."""
        servers = self._servers()
        left = await run_sync(partial(uncovered_jobs, self._ledger, servers, self._retry))
        if left:
            raise UncoveredServersError.of(self._ledger.path, by_server(left), list(servers))

    async def ready(self) -> list[JobOutcome]:
        """Poll once; the outcomes of finished jobs not yet harvested (without taking them).

        Non-blocking: one poll, no waiting for jobs.
        """
        await self._poller.poll()
        return await self._finished()

    async def harvest(self) -> list[JobOutcome]:
        """Poll once; take the outcomes of the jobs that finished since the last harvest.

        Each finished job is harvested once per ledger (the ledger records it, so a
        restarted process does not get them again, and of processes harvesting one ledger
        together each outcome goes to one). Non-blocking: one poll.

        Example::

            for outcome in await run.harvest():
                print(outcome.labels["epoch"], outcome.kind)
        """
        outcomes = await self.ready()
        seqs = [outcome.job.seq for outcome in outcomes]
        claimed = await run_sync(partial(self._ledger.mark_harvested, seqs))
        return [outcome for outcome in outcomes if outcome.job.seq in claimed]

    async def as_completed(self, timeout: float | None = None) -> AsyncIterator[JobOutcome]:
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

            async for outcome in run.as_completed(timeout=3600):
                print(outcome.labels, outcome.kind)
        """
        deadline = self._deadline(timeout)
        while True:
            await self._poller.poll()
            for outcome in await self._finished():
                # Claimed before it is handed over: another process may be harvesting too.
                if await run_sync(partial(self._ledger.mark_harvested, [outcome.job.seq])):
                    yield outcome
            pending = await self._pending()
            if not pending:
                await self._raise_if_uncovered()
                return
            delay = deadline.next_delay()
            if delay is None:
                raise run_timeout(pending, deadline.timeout or 0.0)
            await self._sleep(delay)

    async def wait(
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
            await self._poller.poll()
            done, pending = await self._finished(), await self._pending()
            if return_when == FIRST_COMPLETED and done:
                return WaitResult(done, pending)
            if not pending:
                await self._raise_if_uncovered()
                return WaitResult(done, pending)
            delay = deadline.next_delay()
            if delay is None:
                return WaitResult(done, pending)
            await self._sleep(delay)

    def _deadline(self, timeout: float | None) -> Deadline:
        """The deadline of a wait for the run's jobs: the SDK's one rule of waits."""
        return Deadline(self._poll_interval, check_wait_timeout(timeout), self._clock)
