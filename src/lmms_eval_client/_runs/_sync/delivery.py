# GENERATED FILE from src/lmms_eval_client/_runs/_async/delivery.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""How a run hands out what finished: ``ready``, ``harvest``, ``as_completed`` and ``wait``

Generated from ``_runs/_async/delivery.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

from ..._client.wait import Deadline, check_wait_timeout
from ..._exceptions import InvalidArgumentError
from ..._http._sync._io import run_sync, sleep
from ..._lazy import LazyModule
from ..errors import LedgerError, UncoveredServersError
from ..ledger_claims import acknowledge, claim, release
from ..ledger_reads import pending_servers
from ..options import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    ReturnWhen,
    WaitResult,
    check_return_when,
    run_timeout,
)
from ..servers import by_server, covering, uncovered_jobs
from .polling import RunPoller
from .records import RunRecords

if TYPE_CHECKING:
    from .. import outcomes as _outcomes
    from ..outcomes import JobOutcome, TrackedJob
else:  # pydantic's models load with the first outcome (an evaluation run's import: not)
    _outcomes = LazyModule("lmms_eval_client._runs.outcomes")

logger = logging.getLogger("lmms_eval_client")


class RunDelivery(RunRecords):
    """The delivery of a run's outcomes (see EvalRun)."""

    _sleep = staticmethod(sleep)
    _clock = staticmethod(time.monotonic)
    _poller: RunPoller
    _poll_interval: float
    _claim_timeout: float

    def _servers(self) -> tuple[str, ...]:
        raise NotImplementedError  # the run's: its client's servers

    def _finished(self) -> list[JobOutcome]:
        outcomes = []
        for job in run_sync(self._ledger.unharvested):
            if self._retry is not None and self._retry.wants(job):
                continue  # its retry is still to be sent: pending
            outcome = _outcomes.outcome_of(job)
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

    def _any_pending(self) -> bool:
        """Whether ``_pending`` would find a job, read without building them: a wait's every
        interval with 10,000 jobs pending (ledger_reads)."""
        servers = self._servers()
        where = run_sync(partial(pending_servers, self._ledger))
        if any(covering(servers, server) is not None for server in where):
            return True
        return self._retry is not None and bool(self._pending())

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
        together each outcome goes to one). At most once: an outcome is marked taken as
        it is returned, so a crash before it is dealt with loses it; ``receive`` and
        ``ack`` (or ``harvesting``) hand it out again until acknowledged. Non-blocking: one
        poll.

        Example::

            for outcome in run.harvest():
                print(outcome.labels["epoch"], outcome.kind)
        """
        outcomes = self.ready()
        seqs = [outcome.job.seq for outcome in outcomes]
        claimed = run_sync(partial(self._ledger.mark_harvested, seqs))
        return [outcome for outcome in outcomes if outcome.job.seq in claimed]

    # -- at-least-once delivery ----------------------------------------------------------

    def receive(self) -> list[JobOutcome]:
        """Poll once; hand out the finished outcomes not yet acknowledged, each claimed for
        this run object until ``ack`` (at-least-once delivery).

        Named after a message queue's receive (SQS ``ReceiveMessage``): what it hands out
        is not taken yet, only held. A claim is made in the ledger in one transaction, so
        no two live processes (or run objects) get the same outcome. It holds until
        ``ack(outcome)`` marks the outcome taken, or ``release(outcome)`` hands it back;
        an outcome whose claimer's process is gone (this machine: its pid is dead) or whose
        claim is older than ``claim_timeout`` seconds (the run's argument, default its
        ``orphan_after``: how another machine's claim is judged) is handed out again, to
        any process. A claim of this run's own is not handed out to it again either, until
        it is released or expires. Non-blocking: one poll.

        Unlike ``harvest`` and ``as_completed`` (at most once: an outcome is taken as it
        is handed out, and lost if the process dies before using it), a process killed
        between ``receive`` and ``ack`` gets its outcomes back when it, or another process,
        receives again. Use one style per ledger: ``harvest`` takes outcomes whether they
        are claimed or not.

        Example::

            for outcome in run.receive():
                store(outcome)  # yours: if the process dies here, it is received again
                run.ack(outcome)
        """
        outcomes = self.ready()
        seqs = [outcome.job.seq for outcome in outcomes]
        claimed = run_sync(
            partial(claim, self._ledger, seqs, self._poller._owner, self._claim_timeout)
        )
        return [outcome for outcome in outcomes if outcome.job.seq in claimed]

    def ack(self, *outcomes: JobOutcome | TrackedJob | int) -> int:
        """Acknowledge outcomes (or jobs, or seqs): mark them taken, so they are never
        handed out again; how many this call marked.

        Sets what ``harvest`` sets (``TrackedJob.harvested``) and records an
        ``acknowledged`` event. Acknowledging twice is harmless (the second marks nothing).
        Any finished job can be acknowledged, claimed by this run or not: an ack is the
        caller's word that the outcome has been dealt with, so one received elsewhere and
        not yet acknowledged there is taken too (that process's own ack then marks
        nothing). All in one transaction.

        Raises:
            InvalidArgumentError: A job is not finished, or the ledger has no such seq
                (nothing is marked).

        Example::

            for outcome in run.receive():
                print(outcome.labels, outcome.kind)
                run.ack(outcome)
        """
        seqs = _seqs(outcomes)
        marked = run_sync(partial(acknowledge, self._ledger, seqs, self._poller._owner))
        return len(marked)

    def release(self, *outcomes: JobOutcome | TrackedJob | int) -> int:
        """Hand outcomes this run received back unacknowledged: they are handed out again
        at once (to this or another process); how many this call released.

        Outcomes claimed by another run object, or acknowledged, are left as they are.

        Example::

            outcomes = run.receive()
            run.release(*outcomes)  # not now: someone else may take them
        """
        seqs = _seqs(outcomes)
        released = run_sync(partial(release, self._ledger, seqs, self._poller._owner))
        return len(released)

    @contextmanager
    def harvesting(self) -> Iterator[list[JobOutcome]]:
        """``receive()`` as a block: the outcomes it hands out are acknowledged when the
        block ends without an exception; on an exception they are released (handed out
        again at once, to this or another process) and the exception propagates (a ledger
        failure while releasing is logged: the claims then lapse after ``claim_timeout``).

        A process killed inside the block acknowledges nothing: its outcomes are handed
        out again once its death is seen (this machine) or its claims expire.

        Example::

            with run.harvesting() as outcomes:
                for outcome in outcomes:
                    store(outcome)  # yours: if it raises, nothing is acknowledged
        """
        outcomes = self.receive()
        try:
            yield outcomes
        except BaseException:
            try:
                self.release(*outcomes)
            except LedgerError as exc:  # the block's own exception is the one to see
                logger.warning(
                    "Evaluation run %s: releasing %d outcome(s) failed (they are handed out "
                    "again once their claims expire): %s",
                    self._ledger.path,
                    len(outcomes),
                    exc,
                )
            raise
        self.ack(*outcomes)

    def as_completed(self, timeout: float | None = None) -> Iterator[JobOutcome]:
        """The outcomes of the run's jobs as they finish, until none is pending.

        Each outcome is harvested as it is handed to the loop (once per ledger, as by
        ``harvest``: another process's loop or harvest never gets it too). At most once:
        a process that dies before dealing with an outcome does not get it again; for
        at-least-once delivery use ``receive`` and ``ack`` (or ``harvesting``).

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
            self._poller.poll(deadline.left())
            for outcome in self._finished():
                # Claimed before it is handed over: another process may be harvesting too.
                if run_sync(partial(self._ledger.mark_harvested, [outcome.job.seq])):
                    yield outcome
            if not self._any_pending():
                self._raise_if_uncovered()
                return
            delay = deadline.next_delay()
            if delay is None:
                raise run_timeout(self._pending(), deadline.timeout or 0.0)
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
            self._poller.poll(deadline.left())
            done = self._finished()
            if return_when == FIRST_COMPLETED and done:
                return WaitResult(done, self._pending())
            if not self._any_pending():
                self._raise_if_uncovered()
                return WaitResult(done, [])
            delay = deadline.next_delay()
            if delay is None:
                return WaitResult(done, self._pending())
            self._sleep(delay)

    def _deadline(self, timeout: float | None) -> Deadline:
        """The deadline of a wait for the run's jobs: the SDK's one rule of waits."""
        return Deadline(self._poll_interval, check_wait_timeout(timeout), self._clock)


def _seqs(outcomes: Sequence[JobOutcome | TrackedJob | int]) -> list[int]:
    """The seqs of outcomes, jobs or seqs (InvalidArgumentError for anything else)."""
    seqs = []
    for item in outcomes:
        if isinstance(item, _outcomes.TrackedJob):
            seqs.append(item.seq)
        elif isinstance(
            item,
            (
                _outcomes.JobCompleted,
                _outcomes.JobFailed,
                _outcomes.JobCancelled,
                _outcomes.JobLost,
            ),
        ):
            seqs.append(item.job.seq)
        elif isinstance(item, int) and not isinstance(item, bool):
            if not -(2**63) <= item < 2**63:  # (a driver's OverflowError otherwise)
                raise InvalidArgumentError(f"no job has seq {item}: a seq is a 64-bit int")
            seqs.append(item)
        else:
            raise InvalidArgumentError(
                f"expected an outcome, a TrackedJob or a seq (int), got {type(item).__name__}"
            )
    return seqs
