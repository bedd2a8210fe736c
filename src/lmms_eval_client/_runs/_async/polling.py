"""The work of an AsyncEvalRun that talks to the server: submitting, and one poll.

Generated into ``_sync/polling.py`` (``make generate``): edit only this file. A poll costs
one ``GET /queue`` plus one ``GET /jobs/{id}`` per watched job that is neither queued nor
running any more (the server runs one job at a time: the queue tells the rest).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from ..._client._async.client import AsyncEvalClient
from ..._client._async.submit import drive
from ..._client.reconcile import ANCHOR_FRESH, Anchor, QueueSnapshot, no_anchor, submission_plan
from ..._exceptions import JobNotFoundError, LmmsEvalError
from ..._http._async._io import new_lock, run_sync
from ..._http.options import DEFAULT_OPTIONS, CallOptions
from ..._http.retry import is_transient
from ..._lazy import LazyModule
from ..._trackers.base import Sink
from ..errors import LedgerBusyError, LedgerError, SubmissionUnresolvedError, answer_not_recorded
from ..failing_reads import FailingReads
from ..ledger import Ledger
from ..ledger_reads import Watched, WatchedRows
from ..options import RunRetry, new_owner, run_output_dir
from ..poll_batch import QueueSorter
from ..servers import same_server
from ..sink_delivery import RunDelivery
from ..states import LOST, UNSENT
from ..summaries import MissedSummaries, record_summary
from ..summaries import Summarize as Summarize  # (run.py imports it from here)
from .recovery import Answer, AsyncRunRecovery

if TYPE_CHECKING:
    from lmms_eval_api import models as _models
    from lmms_eval_api.models import EvaluateRequest, JobInfo

    from ..._pool._async.pool import AsyncEvalPool
    from ..outcomes import TrackedJob
else:  # the generated models load with the first submission (an evaluation run's import: not)
    _models = LazyModule("lmms_eval_api.models")

logger = logging.getLogger("lmms_eval_client")


class AsyncRunPoller(AsyncRunRecovery):
    """Submits and polls for one run: its client, ledger and options."""

    _clock = staticmethod(time.monotonic)  # replaced in tests

    def __init__(
        self,
        client: AsyncEvalClient | AsyncEvalPool,
        ledger: Ledger,
        *,
        retry: RunRetry | None,
        output_root: str | None,
        summarize: Summarize | Literal["results"] | None,
        max_completed_jobs: int,
        orphan_after: float,
        sinks: Sequence[Sink] = (),
    ) -> None:
        self.client = client
        self.sinks = tuple(sinks)
        self.ledger = ledger
        self._deliver = RunDelivery(ledger, self.sinks)
        self.retry = retry
        self.output_root = output_root  # the run's own; None: each client's
        self._summarize = summarize
        self._max_completed_jobs = max_completed_jobs
        self._orphan_after = orphan_after
        self._owner = new_owner()
        # This process's submissions under way, known before their intent is recorded (in a
        # worker thread): a poll never takes one for an orphan.
        self._in_flight: set[str] = set()
        # The requests this process sent, secrets included, for retries: the ledger keeps
        # only fingerprints of secret model_args (memory only, and only with a retry policy).
        self._sent: dict[int, EvaluateRequest] = {}
        # Answers the ledger failed to record, by seq: their jobs exist on the server.
        self._unrecorded: dict[int, Answer] = {}
        self._settling = new_lock()  # one settler of orphaned submissions at a time
        # Tokens whose intent's write failed (nothing sent; a lost COMMIT may have written
        # it): recorded unsent once the ledger answers, never reconciled (another process's
        # job of the same request would be taken for it).
        self._never_sent: set[str] = set()
        self._watched = WatchedRows()  # the pending rows, read again when the ledger changed
        self._missed = MissedSummaries()  # completed jobs left without a summary
        self._failing = FailingReads()  # reads of a server down: said once, not each poll
        self._summarized: set[int] = set()  # jobs whose results this run read (or tried to)
        self._sorter = QueueSorter()  # the last poll's sorting of them, by server
        # This process's latest answered submission by server URL, with when it was started:
        # deep in a queue, the next one there within ANCHOR_FRESH reconciles against it.
        self._anchors: dict[str, tuple[Anchor, float]] = {}

    def __repr__(self) -> str:
        return repr(self.ledger.path)  # as the logs name it: "Evaluation run '...'"

    def _clients(self) -> dict[str, AsyncEvalClient]:
        """The client of every server this run can reach, by base URL (over a pool, each
        request goes through its job's server's client: the ledger records the server)."""
        if isinstance(self.client, AsyncEvalClient):
            return {self.client.base_url: self.client}
        return dict(zip(self.client.servers, self.client.clients, strict=True))

    async def _target(
        self, body: EvaluateRequest
    ) -> tuple[AsyncEvalClient, Callable[[bool], None]]:
        """The client a new submission goes through, and what to tell once it is answered
        (a pool's server is reserved until then: under its cap while submissions overlap)."""
        if isinstance(self.client, AsyncEvalClient):
            return self.client, lambda accepted: None
        return await self.client._reserve(body.model, body.tasks)

    def _passed_over(self, client: AsyncEvalClient, error: LmmsEvalError) -> None:
        """A pool passes a failed submission's server over a while, as its evaluate()."""
        if not isinstance(self.client, AsyncEvalClient):
            self.client._refused(client.base_url, error)

    def _in_own_dir(
        self, body: EvaluateRequest, client: AsyncEvalClient, token: str
    ) -> EvaluateRequest:
        """The request with a folder of its own, named after ``token``, under the output root
        in force for ``client``: the run's, else that client's; else the server's choice."""
        root = self.output_root if self.output_root is not None else client.output_root
        fields = {k: v for k, v in body.to_dict().items() if k != "output_dir"}
        if root is not None:
            fields["output_dir"] = run_output_dir(root, body.model, body.model_args, token)
        return _models.EvaluateRequest.from_dict(fields)

    async def submit(
        self,
        body: EvaluateRequest,
        labels: dict[str, Any],
        token: str,
        retry_of: TrackedJob | None,
        *,
        own_dir: bool,
        options: CallOptions = DEFAULT_OPTIONS,
        key: str | None = None,
        until: float | None = None,
    ) -> TrackedJob:
        """Record the intent, send, reconcile a lost answer; ``own_dir``: the run chooses
        the job's output_dir; every request is sent with ``options`` (the call's timeout),
        ending by ``until`` (a wait's, for a retry it polls). With a ``key``, KeyTaken
        (nothing sent) when a job holds it (see ledger_keys)."""
        seqs: list[int] = []
        client, settle = await self._target(body)
        options = self._call(client, until, options)
        accepted = False
        if own_dir:
            body = self._in_own_dir(body, client, token)

        def record_intent(snapshot: QueueSnapshot, sends: int) -> None:
            if seqs:
                self.ledger.record_resend(seqs[0], snapshot.to_json(), sends)
                return
            job = self.ledger.record_intent(
                token=token, labels=labels, request=body, server=client.base_url,
                owner=self._owner, snapshot=snapshot.to_json(), retry_of=retry_of, key=key,
            )  # fmt: skip
            seqs.append(job.seq)
            if self.retry is not None:
                self._sent[job.seq] = body

        # An anchor only for a request with the run's token in its output_dir: the match is exact.
        anchor_of: Callable[[], Anchor | None] = (
            partial(self._anchor, client.base_url) if own_dir and body.output_dir else no_anchor
        )
        plan = submission_plan(
            body,
            token=token,
            on_intent=record_intent,
            known=partial(self._known, client.base_url),
            max_completed_jobs=self._max_completed_jobs,
            anchor=anchor_of,
        )
        self._in_flight.add(token)
        try:
            # The plan records the intent and reads the ledger: its steps run off the loop.
            started = self._clock()
            submitted = await drive(client, plan, options, blocking=True)
            accepted = True
        except LedgerError as exc:
            # the intent's write failed (the plan sends only after it); busy: never written
            if not seqs and not isinstance(exc, LedgerBusyError):
                self._never_sent.add(token)
                with contextlib.suppress(LedgerError):  # else at the next poll, or close
                    await self.record_never_sent()
            raise
        except SubmissionUnresolvedError as exc:
            if seqs and exc.final:
                await run_sync(
                    partial(self.ledger.record_end, seqs[0], LOST, exc.reason, "unresolved")
                )
            self._passed_over(client, exc)
            raise
        except LmmsEvalError as exc:
            if seqs:  # the plan proved that no job exists for it
                await run_sync(partial(self.ledger.record_end, seqs[0], UNSENT, str(exc), "unsent"))
            self._passed_over(client, exc)
            raise
        finally:
            if not accepted:
                self._in_flight.discard(token)
            settle(accepted)
        try:  # in flight until its answer is kept (a watch's first signal waits for it)
            answer = submitted.response
            if submitted.adopted:  # sent long before, maybe (a lost answer's timeout)
                self._anchors.pop(client.base_url, None)
            else:
                anchor = Anchor(answer.job_id, answer.position_in_queue)
                self._anchors[client.base_url] = (anchor, started)
            if not isinstance(self.client, AsyncEvalClient):
                self.client.adopt(answer.job_id, client.base_url)
            event = "adopted" if submitted.adopted else "answer"
            data = answer.model_dump(mode="json")
            # Kept until written: a job the server accepted is never left unknown to the run.
            kept = Answer(client.base_url, answer.job_id, str(answer.status), event, data)
            self._unrecorded[seqs[0]] = kept
        finally:
            self._in_flight.discard(token)
        return await self._record_answer(seqs[0])

    def _anchor(self, server: str) -> Anchor | None:
        """The job a submission to ``server`` may reconcile against (see reconcile), asked
        just before each send."""
        held = self._anchors.get(server)  # one read: another thread may replace it
        if held is None:
            return None
        anchor, started = held
        return anchor if self._clock() - started < ANCHOR_FRESH else None

    async def _record_answer(self, seq: int) -> TrackedJob:
        """Write a kept answer; on failure it stays kept, and the error names the job."""
        answer = self._unrecorded[seq]
        record = partial(
            self.ledger.record_answer, seq, answer.job_id, answer.state, answer.event,
            answer.data, settling=answer.settles,
        )  # fmt: skip
        try:
            job = await run_sync(record)
        except LedgerError as exc:
            raise answer_not_recorded(exc, answer.job_id, answer.server) from exc
        self._unrecorded.pop(seq, None)  # (a poll beside may have written it meanwhile)
        if job.state == LOST and job.job_id is None:  # another submission holds the job
            logger.warning("Evaluation run %s: seq %d recorded lost: %s", self, seq, job.note)
        return job

    async def record_answers(self) -> None:
        """Write the answers a failed write left kept (the first thing of every poll)."""
        for seq in list(self._unrecorded):
            recorded = await run_sync(partial(self.ledger.job, seq))
            kept = self._unrecorded.get(seq)
            if kept is None or recorded.job_id == kept.job_id:
                self._unrecorded.pop(seq, None)  # written, only the read after it failed
            else:
                await self._record_answer(seq)

    async def record_never_sent(self) -> None:
        """Record unsent the intents whose write failed (if it committed all the same)."""
        why = "never sent: its intent's write failed before the request was sent"
        for token in list(self._never_sent):
            await run_sync(partial(self.ledger.record_never_sent, token, why))
            self._never_sent.discard(token)

    async def record_answers_at_close(self) -> None:
        """Write the kept answers (and unsent intents) once more; those that still fail are
        left (logged) to the reconciliation of the next run on the ledger: their intents
        stay ``submitting``."""
        try:
            await self.record_never_sent()
        except LedgerError as exc:
            logger.warning("Evaluation run %s closed with an intent unsettled: %s", self, exc)
        for seq in list(self._unrecorded):
            if seq not in self._unrecorded:  # written meanwhile, by a poll beside
                continue
            try:
                await self._record_answer(seq)
            except LedgerError as exc:
                self._unrecorded.pop(seq, None)  # (a poll beside may have written it)
                logger.warning(
                    "Evaluation run %s closed with seq %d unrecorded: %s", self, seq, exc
                )

    def _known(self, server: str) -> set[str]:
        """The ids of jobs this run holds: recorded, or answered and kept unrecorded (read
        by a plan's step, in a worker thread)."""
        kept = {a.job_id for a in self._unrecorded.values() if same_server(a.server, server)}
        return self.ledger.known_job_ids(server) | kept

    # -- polling ------------------------------------------------------------------------

    async def poll(self, time_left: float | None = None) -> None:
        """One interval's work: reconcile orphaned intents, read each server's queue, read
        the jobs that left it, recover lost jobs from their folders, retry failed (and lost)
        jobs by policy; then the run's sinks get the completed jobs' metrics. ``time_left``:
        of the wait it serves: its reads of queues and jobs end by then (a second at least)."""
        await self.record_answers()
        until = None if time_left is None else self._clock() + time_left  # one for all calls
        await self._reconcile_orphans(until)
        for server, client in self._clients().items():
            await self._poll_server(server, client, self._call(client, until))
        await self.recover_lost()  # every job marked lost above, before any retry
        await self.summarize_missed()
        if self.retry is not None:
            for job in await self.due_for_retry(self.retry):
                await self._resubmit(job, until)
        await run_sync(self._deliver)  # (logs sinks' errors)

    def _call(
        self, client: AsyncEvalClient, until: float | None, call: CallOptions = DEFAULT_OPTIONS
    ) -> CallOptions:
        """``call`` ending by ``until`` (this run's clock; None: as it is), on ``client``'s."""
        return (
            call
            if until is None
            else replace(call, deadline=client._clock() + until - self._clock())
        )

    async def _poll_server(self, server: str, client: AsyncEvalClient, call: CallOptions) -> None:
        # Light rows, and the per-job work in worker threads: a poll costs what the jobs
        # that changed cost, not the jobs pending (ledger_reads, poll_batch).
        watched = await run_sync(partial(self._watched.on, self.ledger, server))
        if not watched:
            return
        read = f"reading the queue of {server}"
        try:
            queue = await client._get_queue_status(call)
        except LmmsEvalError as exc:
            if not is_transient(exc):
                raise
            self._failing.failed(self, read, exc)
            return
        self._failing.worked(self, read)
        sort = partial(self._sorter.sort, self.ledger, server, watched, queue)
        for row in await run_sync(sort):
            await self._observe_gone(client, row, call)

    async def _observe_gone(self, client: AsyncEvalClient, row: Watched, call: CallOptions) -> None:
        """A job its server's queue no longer shows: read it (finished, or forgotten)."""
        read = f"reading job {row.job_id} of {client.base_url}"
        try:
            info = await client._get_job(row.job_id, call)
        except JobNotFoundError:
            why = (
                "the server no longer knows the job: it restarted (jobs live in its memory "
                "only) or evicted the finished job (beyond its max_completed_jobs)"
            )
            await run_sync(partial(self.ledger.record_end, row.seq, LOST, why, "lost"))
            return
        except LmmsEvalError as exc:
            if not is_transient(exc):
                raise
            self._failing.failed(self, read, exc)
            return
        self._failing.worked(self, read)
        state = str(info.status)
        if state == row.state:  # the whole row, for this job only: its info may have changed
            known = await run_sync(partial(self.ledger.job, row.seq))
            if info == known.info:
                return
        await run_sync(partial(self.ledger.record_status, row.seq, state, info))
        if info.status == _models.JobStatus.COMPLETED and self._summarize is not None:
            await self._record_summary(client, row.seq, info)

    async def _record_summary(
        self, client: AsyncEvalClient, seq: int, info: JobInfo, quiet: bool = False
    ) -> str | None:
        """Read and record a completed job's summary; why it failed, if it did (logged)."""
        if self._summarize is None:
            return None
        self._summarized.add(seq)  # files are read, and the summary written, off the loop
        record = partial(
            record_summary, self.ledger, self._summarize, info, seq,
            path_map=client.path_map, filesystem=client.filesystem, run=self, quiet=quiet,
        )  # fmt: skip
        return await run_sync(record)
