"""Exactly one job per submission, even when the answer to ``POST /evaluate`` is lost.

No I/O here: a submission is a *plan*, a generator that yields the requests it needs
(``ReadQueue``, ``ReadJob``, ``SendSubmission``, ``Pause``) and is sent their results (or
thrown their errors) by a driver, ``_async/submit.py`` or its generated sync twin.

The plan:

1. Read ``GET /queue`` (the snapshot *before*: the ids queued or running), then record the
   intent (the caller's hook: an evaluation run writes it to its ledger), then send.
   With an *anchor* (an evaluation run's previous job on that server, sent less than
   ``ANCHOR_FRESH`` seconds before this send and answered with at least ``DEEP_QUEUE`` jobs
   ahead of it; only for a request whose output_dir carries the submission's token), the
   anchor is the snapshot, unread: ours will be queued behind it. So a burst of such
   submissions into a deep queue reads nothing before each POST.
2. When the answer is lost (connection broken or timed out after sending, a gateway error,
   an unreadable 2xx), look for the job instead of guessing:

   - read ``GET /queue`` again; every queued or running id that was not in the snapshot
     before (anchored: that comes after the anchor, the server listing its queue in
     submission order), and that the caller does not already own, was created since; read
     each one's ``JobInfo``: the one whose ``request`` echoes ours is ours: it is adopted.
     A unique ``output_dir`` (an evaluation run puts a fresh token in it when it has an
     output root) makes this match exact; without one, the whole request must be equal,
     and an identical request sent by someone else in that window is taken as ours
     (nothing is sent again; if ours was created too, it runs untracked);
   - not found: the server runs one job at a time in submission order, so if a job that
     was queued or running before ours was sent is still queued or running, ours cannot
     have started, and, not being queued, does not exist: it is sent again;
   - anchored, and the anchor is no longer queued or running: only ours carries its
     token, so every job listed (that the caller does not own) may be read: the first and
     the last ``MAX_DRAINED_READS`` first (ours is near the front if the anchor ran, near
     the end if the answer was lost moments ago), then the middle (the anchor was
     cancelled); found, it is adopted; else, no counters having been read before, the plan
     raises ``SubmissionUnresolvedError``, final (a full snapshot might have proved its
     absence by a job sent between the anchor and ours that still waits);
   - else (every job ahead of ours has ended): ours could have been created *and* have
     finished, and the server lists no finished jobs. Its ``completed_jobs`` and
     ``failed_jobs`` counters decide: if they grew by exactly the jobs ahead that ended
     completed or failed (each one read) and are below ``max_completed_jobs`` (so the server
     evicted nothing, which would hide a count), no other job ended: ours does not exist
     and is sent again. Otherwise the plan raises ``SubmissionUnresolvedError``, final (a
     run's orphan may yet be proven never started by its folder: ``_runs/recovery_files``).

Exactly-once therefore holds unless someone else cancels our job in the window (then it
is sent again: one job ran, one was cancelled), or the server holds cancelled jobs that
count toward ``max_completed_jobs`` but not in ``/queue`` while it evicts (the counters
then understate). An unreachable server during reconciliation also raises
``SubmissionUnresolvedError`` (``final=False``): an evaluation run retries it later.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .._checks import job_id_problem
from .._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    InternalServerError,
    JobNotFoundError,
    LmmsEvalError,
)
from .._lazy import LazyModule
from .._runs.errors import SubmissionUnresolvedError

if TYPE_CHECKING:
    from lmms_eval_api import models as _models
    from lmms_eval_api.models import (
        EvaluateRequest,
        JobInfo,
        JobSubmitResponse,
        QueueStatusResponse,
    )

    from .._secret_args import Fingerprints
else:  # the generated models load with the first submission (an evaluation run's import: not)
    _models = LazyModule("lmms_eval_api.models")

T = TypeVar("T")
DEFAULT_MAX_COMPLETED_JOBS = 100  # the server's default --max-completed-jobs
MAX_RESENDS = 2  # sends after the first, each only once the first is proven absent
RESEND_DELAY = 0.5
MAX_DRAINED_READS = 50  # jobs ahead read to account for the counters; more: unresolved
# From this many jobs ahead a full snapshot's counters can prove nothing (they give up past
# MAX_DRAINED_READS), and reading it costs the most.
DEEP_QUEUE = MAX_DRAINED_READS
# How recently an anchor must have been sent: few jobs were sent between it and ours (a lost
# answer is looked for among them), and DEEP_QUEUE jobs ahead of it do not end that fast
# unless they fail at once or are cancelled (then the whole queue is read; never guessed).
ANCHOR_FRESH = 1.0


@dataclass(frozen=True)
class QueueSnapshot:
    """What ``GET /queue`` said: the ids queued or running (in order), and the counters;
    ``anchored``: instead, the one id of an anchor (see the module), counters unknown."""

    ids: tuple[str, ...]
    completed: int
    failed: int
    anchored: bool = False

    @classmethod
    def of(cls, queue: QueueStatusResponse) -> QueueSnapshot:
        running = (queue.running_job,) if queue.running_job else ()
        return cls(running + tuple(queue.queued_jobs), queue.completed_jobs, queue.failed_jobs)

    @classmethod
    def behind(cls, anchor: str) -> QueueSnapshot:
        return cls((anchor,), 0, 0, anchored=True)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ids": list(self.ids), "completed": self.completed}
        data["failed"] = self.failed
        if self.anchored:
            data["anchored"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueueSnapshot:
        anchored = data.get("anchored", False)
        ids = tuple(data.get("ids", ()))
        if not isinstance(anchored, bool) or (anchored and len(ids) != 1):
            raise ValueError("an anchored snapshot holds exactly one id")
        return cls(ids, int(data["completed"]), int(data["failed"]), anchored)


@dataclass(frozen=True)
class Anchor:
    """A job the caller sent to the same server under ``ANCHOR_FRESH`` seconds ago, and how
    many jobs its answer said were ahead of it (``position_in_queue``). Only for a request
    whose output_dir carries the submission's token: what makes a match exact."""

    job_id: str
    ahead: int


# -- what a plan asks its driver for -------------------------------------------------------


@dataclass(frozen=True)
class ReadQueue:
    """``GET /queue``; send back the QueueStatusResponse."""


@dataclass(frozen=True)
class ReadJob:
    """``GET /jobs/{job_id}``; send back the JobInfo (or throw JobNotFoundError)."""

    job_id: str


@dataclass(frozen=True)
class SendSubmission:
    """``POST /evaluate`` once, without retrying anything that may have been sent."""

    body: EvaluateRequest


@dataclass(frozen=True)
class Pause:
    """Sleep before sending again."""

    seconds: float


Step = ReadQueue | ReadJob | SendSubmission | Pause
Plan = Generator[Step, Any, T]


@dataclass(frozen=True)
class Found:
    job_id: str
    info: JobInfo


@dataclass(frozen=True)
class Absent:
    reason: str


@dataclass(frozen=True)
class Unresolved:
    reason: str
    not_queued: bool = False  # every job listed was read: it is not queued nor running


Verdict = Found | Absent | Unresolved


@dataclass(frozen=True)
class Submitted:
    """A submission's job: answered by the server, or adopted by reconciliation."""

    response: JobSubmitResponse
    adopted: bool
    info: JobInfo | None
    sends: int


def answer_may_be_lost(error: LmmsEvalError) -> bool:
    """Whether a failed submission may have created a job whose id we did not get."""
    if isinstance(error, APIConnectionError):
        return error.may_have_been_sent
    # A 5xx may come from a gateway that passed the request on; an unreadable 2xx means
    # the job was created.
    return isinstance(error, (InternalServerError, APIResponseValidationError))


def _normal(request: EvaluateRequest) -> str:
    """A request with the server's defaults filled in, as comparable text."""
    filled = _models.EvaluateRequest.from_dict(request.to_dict()).model_dump(mode="json")
    fields = {name: filled[name] for name in _models.EvaluateRequest.model_fields}
    return json.dumps(fields, sort_keys=True)


def request_matches(
    sent: EvaluateRequest, echo: EvaluateRequest, fingerprints: Fingerprints | None = None
) -> bool:
    """Whether a job's echoed request is the one sent (defaults filled in on both sides).

    ``fingerprints``: ``sent`` comes from a ledger, which keeps secret model_args only as
    fingerprints: the echo's secrets are compared by their fingerprints.
    """
    if fingerprints is not None:
        sent, echo = fingerprints.comparable(sent, echo)
    return _normal(sent) == _normal(echo)


def find_submission(
    body: EvaluateRequest,
    before: QueueSnapshot,
    known: Callable[[], Iterable[str]],
    max_completed_jobs: int = DEFAULT_MAX_COMPLETED_JOBS,
    fingerprints: Fingerprints | None = None,
) -> Plan[Verdict]:
    """Look for the job a submission sent after ``before`` created, if it did (see above);
    ``fingerprints``: those of the ledger ``body`` was read from (see request_matches)."""
    now = QueueSnapshot.of((yield ReadQueue()))
    anchor_gone = before.anchored and before.ids[0] not in now.ids
    unchecked = False
    for job_id in _maybe_ours(before, now, set(known())):
        if job_id_problem(job_id):  # listed under an id no request can name: unreadable
            unchecked = True
            continue
        try:
            info = yield ReadJob(job_id)
        except JobNotFoundError:
            unchecked = True  # ended and evicted between two reads: it could be ours
            continue
        # Checked again at the decision: a concurrent reconciliation may have adopted it.
        if request_matches(body, info.request, fingerprints) and job_id not in set(known()):
            return Found(job_id, info)
    if unchecked:
        return Unresolved("a job created in the window could not be read (gone, or unnamable)")
    if anchor_gone:
        return Unresolved(
            f"job {before.ids[0]}, sent just before it with {DEEP_QUEUE} or more ahead, has "
            "left the queue, and no job in it is this one: it may have run", not_queued=True
        )  # fmt: skip
    pending = set(now.ids)
    waiting = [job_id for job_id in before.ids if job_id in pending]
    if waiting:
        return Absent(f"not queued, and job {waiting[0]} queued before it still waits (FIFO)")
    if len(before.ids) > MAX_DRAINED_READS:
        return Unresolved(f"all {len(before.ids)} jobs ahead of it ended in the meantime", True)
    ended = 0
    for job_id in before.ids:
        if job_id_problem(job_id):
            return Unresolved(f"job {job_id!r}, ahead of it, has no readable id: blind", True)
        try:
            info = yield ReadJob(job_id)
        except JobNotFoundError:
            return Unresolved(f"job {job_id}, ahead of it, was evicted: counters blind", True)
        if info.status in (_models.JobStatus.COMPLETED, _models.JobStatus.FAILED):
            ended += 1
    finished = now.completed + now.failed
    grown = finished - (before.completed + before.failed)
    if finished >= max_completed_jobs:  # eviction holds a long-lived server's there
        return Unresolved(f"the finished-job counters are at their cap ({finished})", True)
    if grown == ended:
        return Absent("not queued, and no job of unknown id ended since it was sent")
    return Unresolved(
        f"the server's finished-job counters moved by {grown}, {ended} of which the jobs "
        "ahead explain: a job of unknown id may have run and finished", True
    )  # fmt: skip


def _maybe_ours(before: QueueSnapshot, now: QueueSnapshot, owned: set[str]) -> list[str]:
    """The jobs listed ``now`` that may be a submission's, in the server's order (see the
    module): not in the snapshot ``before``; anchored, listed after the anchor, or, the
    anchor gone, all of them, the first and the last MAX_DRAINED_READS first (the match
    is exact: a token)."""
    if not before.anchored:
        earlier = set(before.ids)
        return [job_id for job_id in now.ids if job_id not in earlier and job_id not in owned]
    (anchor,) = before.ids
    if anchor in now.ids:
        later = now.ids[now.ids.index(anchor) + 1 :]  # listed in submission order
        return [job_id for job_id in later if job_id not in owned]
    rest = [job_id for job_id in now.ids if job_id not in owned]
    if len(rest) <= 2 * MAX_DRAINED_READS:
        return rest
    ends = rest[:MAX_DRAINED_READS] + rest[-MAX_DRAINED_READS:]
    return ends + rest[MAX_DRAINED_READS:-MAX_DRAINED_READS]  # then the middle, if need be


def no_anchor() -> Anchor | None:
    """``submission_plan``'s ``anchor`` for a submission that may not skip the snapshot."""
    return None


def submission_plan(
    body: EvaluateRequest,
    *,
    token: str = "",
    on_intent: Callable[[QueueSnapshot, int], None] = lambda snapshot, sends: None,
    known: Callable[[], Iterable[str]] = tuple,
    max_completed_jobs: int = DEFAULT_MAX_COMPLETED_JOBS,
    max_resends: int = MAX_RESENDS,
    anchor: Callable[[], Anchor | None] = no_anchor,
) -> Plan[Submitted]:
    """Send ``body`` so that exactly one job exists for it (see the module's docstring).

    ``on_intent(snapshot, sends)`` runs before each send (``sends`` made so far): an
    evaluation run records its intent there. Errors that prove nothing was created (4xx,
    connection refused) propagate as they are. ``anchor()``, asked just before each send:
    the caller's previous job on that server, if it may stand for the snapshot.
    """
    sends = 0
    while True:
        try:
            before = yield from snapshot_before(anchor())
        except APIConnectionError as exc:
            # Said of its GET /queue; the submission was not sent (nor any before it: a
            # resend follows a proof that the last created nothing): a pool sends it on.
            exc.may_have_been_sent = False
            raise
        on_intent(before, sends)
        sends += 1
        try:
            answer = yield SendSubmission(body)
        except LmmsEvalError as exc:
            if not answer_may_be_lost(exc):
                raise
            lost = exc
        else:
            return Submitted(answer, adopted=False, info=None, sends=sends)
        try:
            verdict = yield from find_submission(body, before, known, max_completed_jobs)
        except LmmsEvalError as exc:
            why = f"the server could not be asked ({exc})"
            raise _unresolved(body, token, why, final=False) from lost
        if isinstance(verdict, Found):
            response = _models.JobSubmitResponse(
                job_id=verdict.job_id,
                status=verdict.info.status,
                position_in_queue=verdict.info.position_in_queue,
                message="Job found on the server after its submission's answer was lost",
            )
            return Submitted(response, adopted=True, info=verdict.info, sends=sends)
        if isinstance(verdict, Absent) and isinstance(lost, APIResponseValidationError):
            # A success answered it: the job exists, under an id not given in a usable form.
            verdict = Unresolved(f"the server answered that it took the job ({verdict.reason})")
        if isinstance(verdict, Unresolved):
            raise _unresolved(body, token, verdict.reason, final=True) from lost
        if sends > max_resends:
            raise lost  # sent max_resends + 1 times, never received: nothing was created
        yield Pause(RESEND_DELAY * sends)


def snapshot_before(anchor: Anchor | None) -> Plan[QueueSnapshot]:
    """The snapshot a send is reconciled against: the anchor, with ``DEEP_QUEUE`` or more
    ahead of it, else ``GET /queue``."""
    if anchor is not None and anchor.ahead >= DEEP_QUEUE:
        return QueueSnapshot.behind(anchor.job_id)
    return QueueSnapshot.of((yield ReadQueue()))


def _unresolved(
    body: EvaluateRequest, token: str, reason: str, *, final: bool
) -> SubmissionUnresolvedError:
    then = (
        "It was not sent again, to never run it twice."
        if final
        else "It was not sent again; reconciliation can be retried once the server answers."
    )
    where = f" Its results would be in {body.output_dir}." if body.output_dir else ""
    return SubmissionUnresolvedError(
        f"The answer to a job submission was lost and the server cannot tell whether the job "
        f"exists: {reason}. {then}{where}",
        token=token,
        output_dir=body.output_dir,
        reason=reason,
        final=final,
    )
