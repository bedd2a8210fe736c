"""CheckpointWatcher: submit each checkpoint a trainer writes into a folder, once.

Polling (``os.scandir`` every ``poll_interval``) is the baseline: it works on every file
system, network ones included, where change events are not delivered. Where they are
(``wake``, see ``wake.py``), a change in the folder ends the wait early. A scan lists the
folders matching ``pattern``, asks the readiness rule which are complete, and submits those
not yet tracked, in step order, under the key of their name: the run's ledger remembers.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .._checks import check_count, check_seconds
from .._client.wait import check_wait_timeout
from .._exceptions import LmmsEvalError
from .._log import logger
from .._runs.outcomes import UNSENT, JobOutcome, TrackedJob
from .checkpoint import (
    Checkpoint,
    EveryK,
    check_directory,
    check_pattern,
    check_rules,
    check_sendable,
    check_watching,
    list_checkpoints,
    order_of,
)
from .handover import hand_over
from .notices import Notices
from .readiness import Looks, MarkerFile, ReadinessRule
from .submission import CheckpointSubmission, checkpoint_of, path_map_of, step_of, submit_checkpoint
from .wake import Until, Wake, Waker, check_wake, resolve_wake, start_waker, stopped, until_set

if TYPE_CHECKING:
    from .._runs._sync.run import EvalRun


class CheckpointWatcher:
    """Submits every complete checkpoint of a folder into an EvalRun, each once.

    Args:
        run: The EvalRun (its ledger remembers what was submitted: keys).
        directory: The folder the trainer writes checkpoints into.
        submit: What to submit for a checkpoint (``CheckpointSubmission``: model, tasks,
            model_args with ``"{checkpoint}"``, other options).
        pattern: Which entries are checkpoints (fnmatch, on the name; folders only).
        ready: When a checkpoint is complete: ``MarkerFile("trainer_state.json")``
            (default) or ``StableSize(seconds=...)``.
        every: Submit every k-th checkpoint (by step): the k-th after the last submitted
            one (the first k-1 are skipped for good; those the trainer deleted since this
            watcher saw them count too: ``save_total_limit``). 1: all of them.
        max_pending: At most this many of the watcher's jobs queued or running at once;
            more checkpoints wait (in step order) until one finishes. None: no limit.
        step: The step of a checkpoint's name (default: its trailing integer).
        key_prefix: Put before each checkpoint's name to make its key (several trainings
            into one ledger: give each its own). The watcher's jobs are exactly the keys
            it makes (its prefix, then a name of its pattern): it never counts, nor takes
            the outcomes of, another watcher's.
        poll_interval: Seconds between scans of ``run`` and ``finish`` (> 0): the longest
            wait, whatever ``wake`` says.
        wake: What ends a wait early. ``"auto"`` (default): change events in the folder
            when ``watchfiles`` is installed (``pip install 'lmms-eval-client[watch]'``)
            and the folder is on a local file system; polling only on a network one (NFS,
            SMB, Lustre, FUSE, ...), which delivers no events for other hosts' writes.
            ``"events"``: events wherever the OS gives them (watchfiles required).
            ``"poll"``: polling only. Events only say "scan now": readiness is checked the
            same way, and polling goes on as the backstop.

    Raises:
        InvalidArgumentError: An argument is invalid (``wake="events"`` without watchfiles,
            a pattern that can match no folder's name: empty, or holding a path separator).

    Example::

        what = CheckpointSubmission(model="hf", tasks=["mme"])
        watcher = CheckpointWatcher(run, "out", submit=what, every=2, max_pending=4)
        watcher.run(until=stop_event)
        watcher.finish(timeout=3600)
    """

    _clock: Callable[[], float] = staticmethod(time.monotonic)
    _sleep: Callable[[float], None] | None = None  # None: a real wait (on ``until``'s Event)

    def __init__(
        self,
        run: EvalRun,
        directory: str | os.PathLike[str],
        *,
        submit: CheckpointSubmission,
        pattern: str = "checkpoint-*",
        ready: ReadinessRule | None = None,
        every: int = 1,
        max_pending: int | None = None,
        step: Callable[[str], int | None] = step_of,
        key_prefix: str = "",
        poll_interval: float = 10.0,
        wake: Wake = "auto",
    ) -> None:
        self._prefix = check_watching(run, submit, key_prefix)
        check_rules(ready, step)
        self._run = run
        self._directory = check_directory(directory)
        check_sendable(self._directory, path_map_of(run, self._directory))
        self._submit = submit
        self._pattern = check_pattern(pattern)
        self._ready: ReadinessRule = MarkerFile() if ready is None else ready
        self._every = EveryK(check_count("every", every))
        self._max_pending = None if max_pending is None else check_count("max_pending", max_pending)
        self._step = step
        self._poll_interval = check_seconds("poll_interval", poll_interval)
        self._wake = check_wake(wake)
        self._looks = Looks()
        self._listed_once = False
        self._notices = Notices(self._directory, filter(self._ours, run.jobs()))

    def __repr__(self) -> str:
        return f"CheckpointWatcher({str(self._directory)!r}, pattern={self._pattern!r})"

    @property
    def directory(self) -> Path:
        """The watched folder.

        Example::

            print("watching", watcher.directory)
        """
        return self._directory

    @property
    def wake_mode(self) -> Literal["events", "poll"]:
        """How ``run`` and ``finish`` would wait now: on change events (with polling as the
        backstop) or by polling only (``wake`` resolved for the folder's file system).

        Example::

            print("waiting on", watcher.wake_mode)  # "events" or "poll"
        """
        return resolve_wake(self._wake, self._directory)

    def checkpoints(self) -> list[Checkpoint]:
        """The folder's checkpoints (complete or not), in step order.

        Raises:
            WatchedDirectoryMissingError: The folder is missing (or was deleted).
            WatchPermissionError: This process may not list it.

        Example::

            print([c.name for c in watcher.checkpoints()])
        """
        found = list_checkpoints(
            self._directory,
            self._pattern,
            self._step,
            deleted=self._listed_once,
            left_out=self._notices.left_out,
        )
        self._listed_once = True
        return found

    def key_of(self, checkpoint: Checkpoint) -> str:
        """The key a checkpoint is submitted under: ``key_prefix`` + its name.

        Example::

            job = run.job(watcher.key_of(watcher.checkpoints()[0]))
        """
        return self._prefix + checkpoint.name

    def _ours(self, job: TrackedJob) -> bool:
        name = checkpoint_of(job, self._prefix)  # a key it makes, of a checkpoint of its pattern
        return name is not None and fnmatch.fnmatchcase(name, self._pattern)

    def pending(self) -> list[TrackedJob]:
        """The watcher's jobs still queued, running (or being submitted), as last polled.

        Example::

            print(len(watcher.pending()), "evaluations still running")
        """
        return [job for job in self._run.jobs() if self._ours(job) and job.pending]

    def scan(self) -> list[TrackedJob]:
        """One pass: submit every complete checkpoint not yet submitted (within ``every``
        and ``max_pending``), in step order; the jobs it submitted.

        Raises:
            WatchedDirectoryMissingError: The folder is missing (or was deleted).
            WatchPermissionError: This process may not read it.
            LedgerError, APIStatusError, APIConnectionError: as ``EvalRun.submit``.

        Example::

            for job in watcher.scan():
                print("submitted", job.key, job.job_id)
        """
        return self._scan()[0]

    def _scan(
        self, told: Callable[[TrackedJob], None] | None = None, until: Until = None
    ) -> tuple[list[TrackedJob], int]:
        """The jobs submitted (each ``told`` as it is; a set ``until`` Event ends the scan),
        and how many checkpoints are still to submit later."""
        listed = self.checkpoints()
        ours = [job for job in self._run.jobs() if self._ours(job)]
        self._notices.lost(ours, self._run._poller.retry)
        self._notices.retries(ours, told)
        submitted = {job.key for job in ours if job.state != UNSENT}
        in_flight = sum(1 for job in ours if job.pending)
        # (every) the last one sent: one kept unsent is tried again, not passed over
        last = max((order_of(job) for job in ours if job.state != UNSENT), default=None)
        jobs: list[TrackedJob] = []
        waiting = 0
        self._every.start(listed, last)
        for checkpoint in listed:
            if self.key_of(checkpoint) in submitted:
                continue
            if self._every.every > 1:
                if last is not None and checkpoint.order <= last:
                    continue  # skipped for good (every): before the last submitted one
                if not self._every.is_kth(checkpoint):
                    continue
            if self._max_pending is not None and in_flight >= self._max_pending:
                waiting += 1
                continue
            if checkpoint.name in self._notices.refused:
                continue
            if not self._is_ready(checkpoint):
                waiting += 1
                if self._every.every > 1:
                    if checkpoint.name in self._notices.unreadable:
                        self._every.stand_in()  # passed over: the next complete one stands in
                        continue
                    later = listed[listed.index(checkpoint) + 1 :]
                    self._notices.held_back(checkpoint, later, self._every.every, self._is_ready)
                    break  # the k-th is not complete: the ones after it wait their turn
                continue
            if until_set(until):
                return jobs, waiting + 1  # stopped: no submission begins (a function: per pass)
            try:
                job = submit_checkpoint(
                    self._run,
                    checkpoint.path,
                    submit=self._submit,
                    step=checkpoint.step,
                    key=self.key_of(checkpoint),
                )
            except LmmsEvalError as exc:
                if self._notices.failed(checkpoint, exc):
                    continue  # refused: the others go on
                return jobs, waiting + 1  # the server down or busy: the rest wait
            in_flight += job.pending  # (its own or another watcher's: in flight either way)
            self._notices.sent()
            if not self._run._recorded_here(job):
                continue  # another watcher of the ledger submitted it meanwhile
            logger.info("Watcher of %s: submitted %s as seq %d", self._directory, job.key, job.seq)
            jobs.append(job)
            if told is not None:
                told(job)
        return jobs, waiting

    def _is_ready(self, checkpoint: Checkpoint) -> bool:
        """The readiness rule's word, timed when it looks (a scan's submissions may take
        seconds each); a checkpoint it cannot read (a symlink loop in it, a folder this
        process may not read) is not ready, and is said once."""
        try:
            ready = self._ready.is_ready(checkpoint.path, self._looks, self._clock())
        except (OSError, LmmsEvalError) as exc:
            self._notices.cannot_read(checkpoint, exc)
            return False
        self._notices.unreadable.discard(checkpoint.name)  # readable again: incomplete at most
        return ready

    def collect(self, on_outcome: Callable[[JobOutcome], None] | None = None) -> list[JobOutcome]:
        """Poll once; the outcomes of the watcher's jobs that finished, each handed to
        ``on_outcome`` and then acknowledged (at-least-once: if ``on_outcome`` raises, or
        the process dies, they are handed out again). Others' outcomes are left.

        Example::

            for outcome in watcher.collect():
                print(outcome.labels["step"], outcome.kind)
        """
        return hand_over(self._run, self._ours, on_outcome)

    def run(
        self,
        until: Until = None,
        timeout: float | None = None,
        *,
        on_submitted: Callable[[TrackedJob], None] | None = None,
        on_outcome: Callable[[JobOutcome], None] | None = None,
    ) -> list[TrackedJob]:
        """Scan and collect outcomes every ``poll_interval`` (sooner after a change in the
        folder, see ``wake``) until ``until`` says stop (an Event set, or a function
        returning True) or ``timeout`` seconds passed; the jobs it submitted. Stopping
        stops watching, never the jobs.

        Raises:
            WatchedDirectoryMissingError, WatchPermissionError: as ``scan``.

        Example::

            stop = threading.Event()
            threading.Thread(target=watcher.run, args=(stop,)).start()
            ...  # training
            stop.set()
        """
        timeout = check_wait_timeout(timeout)
        started = self._clock()
        jobs: list[TrackedJob] = []
        with self._waker(until) as waker:
            while not until_set(until):  # (an Event set while it waited: no pass begins)
                with self._notices.one_pass():  # one verdict on the ledger a pass
                    with self._notices.riding_out():  # first: a job that ended frees its slot
                        self.collect(on_outcome)
                    with self._notices.ledger_out():
                        jobs += self._scan(on_submitted, until)[0]
                if stopped(until) or not (wait := self._next_wait(started, timeout)):
                    break
                waker.wait(wait)
        return jobs

    def finish(
        self,
        timeout: float | None = None,
        *,
        on_submitted: Callable[[TrackedJob], None] | None = None,
        on_outcome: Callable[[JobOutcome], None] | None = None,
    ) -> list[TrackedJob]:
        """After training: scan until every checkpoint is submitted and every job of the
        watcher has finished (outcomes collected), or ``timeout`` seconds passed; the jobs
        still pending, which go on on the server. Empty means all done unless a warning said
        that checkpoints were left unsubmitted (not complete, or the server down). All done
        is said by a pass in which every use of the run's ledger went through (an outcome
        whose hand-over met the ledger out is waited for).

        The run's ledger out for a while (its PostgreSQL server restarting, a lock held
        long) is ridden out as in ``run``: said once, tried again at each poll.

        Raises:
            WatchedDirectoryMissingError, WatchPermissionError: as ``scan``.
            LedgerConnectionError, LedgerBusyError: ``timeout`` passed with the ledger out
                (any use of it in the last pass failed: a lock on its writes too).

        Example::

            left = watcher.finish(timeout=3600)
            print(len(left), "evaluations still running")
        """
        timeout = check_wait_timeout(timeout)
        started = self._clock()
        with self._waker(None) as waker:
            while True:
                with self._notices.one_pass():  # (as in run)
                    with self._notices.riding_out():  # first: a job that ended frees its slot
                        self.collect(on_outcome)
                    with self._notices.ledger_out():  # out: said once, the pass tried again
                        waiting, pending = self._scan(on_submitted)[1], self.pending()
                        self._notices.only_waiting(
                            0 if pending else waiting, self._clock(), started
                        )
                # all done only after a pass all of which went through: a claim that failed
                # after its poll recorded a job completed left it not pending, not handed over
                if self._notices.went_through() and not pending and not waiting:
                    return []
                wait = self._next_wait(started, timeout)
                if not wait:
                    self._notices.ledger_still_out()  # (else this pass set waiting, pending)
                    self._notices.left_at_end(waiting)
                    return pending
                waker.wait(wait)

    def _next_wait(self, started: float, timeout: float | None) -> float:
        """``poll_interval``, cut to the time left of ``timeout`` (0: it passed)."""
        if timeout is None:
            return self._poll_interval
        return max(0.0, min(self._poll_interval, started + timeout - self._clock()))

    def _waker(self, until: Until) -> Waker:
        """Started before the first scan: a change made after it wakes the next wait."""
        return start_waker(self._wake, self._directory, self._pattern, until, self._sleep)
