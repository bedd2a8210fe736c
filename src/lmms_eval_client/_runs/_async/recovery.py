"""Recovery at each poll: submissions whose process stopped between recording and hearing
back are settled, and lost jobs whose own folder holds complete results become
``completed`` (see ``recovery_files.py`` for what counts and what is recorded).

A mixin of the run's poller (``polling.py``). Every poll, after the servers have been read
(so a job marked lost by this poll, the server having forgotten it or its submission
being unresolvable, is checked at once) and before failed or lost jobs are retried by
policy (recovery comes first), each lost job not yet checked is checked once, a batch at
most per poll. Files are read in a worker thread, through the job's client's path_map /
filesystem, as summaries are. Hand-written source of ``_sync/recovery.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from ..._client._async.client import AsyncEvalClient
from ..._client._async.submit import drive
from ..._client.reconcile import Absent, Found, find_submission
from ..._exceptions import JobNotFoundError, LmmsEvalError
from ..._http._async._io import Lock, run_sync, take
from ..._http.options import DEFAULT_OPTIONS, CallOptions
from ..._http.retry import is_transient
from ..._http.transport import request_budget
from ..._lazy import LazyModule
from ..errors import LedgerError
from ..ledger import Ledger
from ..ledger_keys import KeyTaken
from ..ledger_reads import owner_and_snapshot, submitting
from ..options import RunRetry, new_token, owner_is_gone
from ..servers import client_for
from ..states import LOST, UNSENT
from ..summaries import MissedSummaries

if TYPE_CHECKING:
    from lmms_eval_api.models import EvaluateRequest, JobInfo

    from .. import recovery_files as _recovery
    from ..outcomes import TrackedJob
    from ..summaries import Summarize
else:  # the results reading loads with the first poll (an evaluation run's import: not)
    _recovery = LazyModule("lmms_eval_client._runs.recovery_files")

logger = logging.getLogger("lmms_eval_client")


@dataclass(frozen=True)
class Answer:
    """The server's answer to a submission, kept until the ledger has recorded it."""

    server: str
    job_id: str
    state: str
    event: str
    data: dict[str, Any]
    settles: bool = False  # reconciliation's: written only while the row is submitting


class AsyncRunRecovery:
    """The settling of orphaned submissions and the recovery of lost jobs from their output
    folders (a mixin of the run's poller, which sets these attributes)."""

    ledger: Ledger
    _owner: str
    _orphan_after: float
    _max_completed_jobs: int
    _in_flight: set[str]
    _unrecorded: dict[int, Answer]
    _settling: Lock  # held by the one settling orphaned submissions (_reconcile_orphans)
    _clock: Callable[[], float]  # the clock of ``until``
    _sent: dict[int, EvaluateRequest]
    retry: RunRetry | None
    _summarize: Summarize | Literal["results"] | None
    _missed: MissedSummaries
    _summarized: set[int]

    def _clients(self) -> dict[str, AsyncEvalClient]:
        raise NotImplementedError  # the poller's: the client of each server, by base URL

    async def _record_summary(
        self, client: AsyncEvalClient, seq: int, info: JobInfo, quiet: bool = False
    ) -> str | None:
        raise NotImplementedError  # the poller's: a completed job's summary

    def _known(self, server: str) -> set[str]:
        raise NotImplementedError  # the poller's: the ids of the jobs this run holds

    async def _record_answer(self, seq: int) -> TrackedJob:
        raise NotImplementedError  # the poller's: write a kept answer

    async def record_never_sent(self) -> None:
        raise NotImplementedError  # the poller's: record unsent the intents never sent

    def _call(
        self, client: AsyncEvalClient, until: float | None, call: CallOptions = DEFAULT_OPTIONS
    ) -> CallOptions:
        raise NotImplementedError  # the poller's: ``call`` ending by ``until``, on its clock

    async def submit(
        self, body: EvaluateRequest, labels: dict[str, Any], token: str,
        retry_of: TrackedJob | None, *, own_dir: bool, until: float | None = None,
    ) -> TrackedJob:  # fmt: skip
        raise NotImplementedError  # the poller's: record the intent, send, reconcile

    async def recover_lost(self) -> None:
        """Check each lost job not checked yet: completed from its files, or left lost."""
        clients = self._clients()
        # Matched by identity: a job recorded under another spelling of a server is its job.
        spellings = await run_sync(partial(_recovery.lost_servers, self.ledger))
        covered = tuple(server for server in spellings if client_for(clients, server))
        for job in await run_sync(partial(_recovery.unchecked_lost, self.ledger, covered)):
            client = client_for(clients, job.server)
            if client is None:  # (covered above: the same spellings)
                continue
            read = partial(
                _recovery.find_results, job, path_map=client.path_map, filesystem=client.filesystem
            )
            try:
                found = await run_sync(read)  # reads files: off the loop
            except Exception as exc:  # a filesystem's own failure must not stop the run
                found = f"reading its output folder failed: {type(exc).__name__}: {exc}"
            if not isinstance(found, _recovery.Recovered):
                await run_sync(partial(_recovery.record_checked, self.ledger, job.seq, found))
                continue
            if await run_sync(partial(_recovery.record_recovered, self.ledger, job.seq, found)):
                logger.info(
                    "Evaluation run %s: lost job seq %d recovered from %s",
                    self,
                    job.seq,
                    ", ".join(found.files),
                )
                await self._record_summary(client, job.seq, found.info)

    async def due_for_retry(self, retry: RunRetry) -> list[TrackedJob]:
        """The finished jobs on this run's servers that ``retry`` sends again; not a lost
        one recovery has yet to read (a batch a poll): its results may be complete."""
        servers = self._clients()
        finished = await run_sync(self.ledger.unharvested)
        unread: set[int] = set()
        if any(job.state == LOST for job in finished):
            unread = await run_sync(partial(_recovery.awaiting_recovery, self.ledger))
        return [
            job
            for job in finished
            if job.seq not in unread
            and client_for(servers, job.server) is not None
            and retry.wants(job)
        ]

    async def summarize_missed(self) -> None:
        """Read the results of completed jobs left without a summary (``MissedSummaries``)."""
        if self._summarize is None:
            return
        clients, failed = self._clients(), list[tuple[int, str]]()
        for job in await run_sync(partial(self._missed.due, self.ledger, self._summarized)):
            client = client_for(clients, job.server)
            if client is None or job.info is None:
                continue
            why = await self._record_summary(client, job.seq, job.info, quiet=True)
            if why is not None:
                failed.append((job.seq, why))
        if failed:  # said once a batch: a run restarted over many such jobs is not a flood
            logger.warning("Evaluation run %s: %d completed job(s) without a summary could "
                           "not be read here either (seq %s; the first: %s): their metrics "
                           "stay out of metrics() and the sinks until a run whose client's "
                           "path_map / filesystem reaches their results reads them", self,
                           len(failed), ", ".join(str(seq) for seq, _ in failed),
                           failed[0][1])  # fmt: skip

    def _is_orphan(self, job: TrackedJob, owner: str | None) -> bool:
        if job.token in self._in_flight or job.seq in self._unrecorded:
            return False
        if owner == self._owner or owner_is_gone(owner):
            return True
        return time.time() - job.updated_at.timestamp() > self._orphan_after

    async def _reconcile_orphans(
        self, until: float | None = None, call: CallOptions = DEFAULT_OPTIONS
    ) -> None:
        """Settle submissions whose process stopped between recording and hearing back,
        each request with ``call`` (a submit's options, under its key) ending by ``until``.
        Two processes may settle one at once: a verdict is written only while the row is
        still unsettled (the Ledger's ``settling``)."""
        await self.record_never_sent()  # before any request: these need none
        # One settler at a time in a run: the job one adopts is the run's before its write
        # lands, so a settler beside it no longer counts that job as a candidate, finds the
        # queue without one, and would write "unsent" first (then send it again). After the
        # other's write, a settler finds the submission answered and passes over it. It
        # waits as long as one of its own requests may take (by ``call``, not past
        # ``until``): the other may be at a hung server; then its settling is postponed.
        if not await take(self._settling, wait=self._settling_wait(until, call)):
            logger.info("Evaluation run %s: reconciliation postponed: another call of this "
                        "run is settling orphaned submissions", self)  # fmt: skip
            return
        try:
            await self._settle_orphans(until, call)
        finally:
            self._settling.release()

    def _settling_wait(self, until: float | None, call: CallOptions) -> float | None:
        """How long a settler waits for another (see _reconcile_orphans); None: no limit."""
        budgets = [request_budget(c._http.timeout, call.timeout) for c in self._clients().values()]
        bounded = [budget for budget in budgets if budget is not None]
        wait = max(bounded, default=0.0) if len(bounded) == len(budgets) else None
        if until is not None:
            left = max(until - self._clock(), 0.0)
            wait = left if wait is None else min(wait, left)
        return wait

    async def _settle_orphans(self, until: float | None, call: CallOptions) -> None:
        clients = self._clients()
        for job in await run_sync(partial(submitting, self.ledger)):
            client = client_for(clients, job.server)
            if client is None:
                continue
            found = await run_sync(partial(owner_and_snapshot, self.ledger, job.seq))
            if found is None:  # answered since it was listed (by its own process)
                continue
            owner, snapshot = found
            if not self._is_orphan(job, owner):
                continue
            plan = find_submission(
                job.request,
                snapshot,
                partial(self._known, job.server),
                self._max_completed_jobs,
                self.ledger.fingerprints,
            )
            try:
                verdict = await drive(client, plan, self._call(client, until, call), blocking=True)
            except LmmsEvalError as exc:
                if not is_transient(exc):
                    raise
                logger.warning("Evaluation run %s: reconciliation postponed: %s", self, exc)
                return
            if isinstance(verdict, Found):
                data = verdict.info.model_dump(mode="json")
                state = str(verdict.info.status)
                kept = Answer(job.server, verdict.job_id, state, "adopted", data, settles=True)
                self._unrecorded[job.seq] = kept
                await self._record_answer(job.seq)
            elif isinstance(verdict, Absent):
                # The queue cannot tell a job never received from one the server took, ran
                # and forgot in a restart (its counters back at 0): its folder can. Lost, so
                # that recovery reads its results instead of a resend.
                folder = await self._folder(_recovery.started_folder, client, job)
                if folder is None:
                    await self._settle(job.seq, UNSENT, verdict.reason, "unsent")
                else:
                    reason = f"the server forgot it, yet made its output folder {folder}"
                    await self._settle(job.seq, LOST, reason, "lost")
            # The counters cannot place it (a long-lived server's sit at their cap), but a
            # job the server started has its folder: one missing, it never started.
            elif verdict.not_queued and (
                missing := await self._folder(_recovery.never_started, client, job)
            ):
                reason = f"{verdict.reason}; yet not queued, its folder {missing} never made"
                await self._settle(job.seq, UNSENT, reason, "unsent")
            else:
                await self._settle(job.seq, LOST, verdict.reason, "unresolved")

    async def _folder(
        self,
        look: Callable[..., str | None],
        client: AsyncEvalClient,
        job: TrackedJob,
    ) -> str | None:
        """``look`` (recovery_files' started_folder, never_started) at the job's own output
        folder, through its client's path map / filesystem, in a worker thread."""
        found = partial(look, job, path_map=client.path_map, filesystem=client.filesystem)
        return await run_sync(found)

    async def _settle(self, seq: int, state: str, note: str, event: str) -> None:
        end = partial(self.ledger.record_end, seq, state, note, event, settling=True)
        await run_sync(end)

    async def _to_resend(self, failed: TrackedJob, until: float | None) -> EvaluateRequest | None:
        """The failed job's request with its secrets (model_args, extra_body fields): as this
        process sent it, else from the server's echo of it (checked against the ledger's
        fingerprints)."""
        fingerprints = self.ledger.fingerprints
        if not fingerprints.is_sealed(failed.request):
            return failed.request
        if failed.seq in self._sent:
            return self._sent[failed.seq]
        client = client_for(self._clients(), failed.server)
        if client is None:
            return None
        try:  # (a transient failure is raised: tried again at the next poll)
            info = await client._get_job(str(failed.job_id), self._call(client, until))
        except JobNotFoundError:
            return None
        return fingerprints.unseal(failed.request, info.request)

    async def _resubmit(self, failed: TrackedJob, until: float | None = None) -> None:
        """Send a failed (or lost) job again, by policy: a new attempt; ``until``: the wait
        the poll serves ends then, and so does every request of the retry."""
        try:  # (a transient failure, reading its echo or sending it, is tried again later)
            body = await self._to_resend(failed, until)
            if body is None:
                assert self.retry is not None  # (called by policy)
                self.retry.given_up.add(failed.seq)  # handed out as it ended, said once
                logger.warning("Evaluation run %s: %s job %s (seq %d) is not retried: the "
                               "ledger keeps only fingerprints of its secrets (model_args, "
                               "extra_body fields), and the server no longer echoes them",
                               self, failed.state, failed.job_id, failed.seq)  # fmt: skip
                return
            # A folder the run chose ends with the attempt's token: the new attempt gets a
            # fresh one (the failed attempt's keeps its logs); one the caller chose is kept.
            own_dir = isinstance(body.output_dir, str) and body.output_dir.endswith(failed.token)
            await self.submit(
                body, failed.labels, new_token(), failed, own_dir=own_dir, until=until
            )
        except KeyTaken:  # another process (or run object) of the ledger retried it first
            pass
        except LedgerError:
            raise
        except LmmsEvalError as exc:
            logger.warning("Evaluation run %s: retrying %s job %s failed (tried again at the "
                           "next poll): %s", self, failed.state, failed.job_id, exc)  # fmt: skip
