# GENERATED FILE from src/lmms_eval_client/_client/_async/submit.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""Driving a submission plan of ``_reconcile``: each request it asks for, sent by a client.

Generated from ``_client/_async/submit.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..._exceptions import LmmsEvalError
from ..._http._sync._io import run_sync
from ..._http.options import DEFAULT_OPTIONS, CallOptions
from ..arguments import check_job_id
from ..reconcile import (
    DEFAULT_MAX_COMPLETED_JOBS,
    Pause,
    Plan,
    ReadJob,
    ReadQueue,
    SendSubmission,
    submission_plan,
)

if TYPE_CHECKING:
    from lmms_eval_api.models import (
        EvaluateRequest,
        JobInfo,
        JobSubmitResponse,
        QueueStatusResponse,
    )

T = TypeVar("T")


class PlanSender(Protocol):
    """What driving a plan needs of a client (the client's own sends, with its retries and
    limits): a protocol, so this module needs no import of the client, which imports it."""

    def _get_queue_status(self, options: CallOptions = ...) -> QueueStatusResponse: ...

    def _get_job(self, job_id: str, options: CallOptions = ...) -> JobInfo: ...

    def _submit(self, body: EvaluateRequest, options: CallOptions) -> JobSubmitResponse: ...

    def _sleep(self, seconds: float) -> None: ...


def drive(
    client: PlanSender,
    plan: Plan[T],
    options: CallOptions = DEFAULT_OPTIONS,
    *,
    blocking: bool = False,
) -> T:
    """Run a plan: send what it asks for through ``client``; what it returns.

    Every request is sent with ``options``, those of the call the plan serves (its
    ``timeout=``, say). Each request's typed error is thrown into the plan, which decides
    what it means. ``blocking``: the plan's callbacks do blocking I/O (an evaluation run's
    ledger), so each step of it is worked out in a worker thread.
    """
    reply: Any = None
    error: LmmsEvalError | None = None
    while True:
        if blocking:
            done, step = run_sync(partial(_advance, plan, reply, error))
        else:
            done, step = _advance(plan, reply, error)
        if done:
            result: T = step
            return result
        reply, error = None, None
        try:
            if isinstance(step, ReadQueue):
                reply = client._get_queue_status(options)
            elif isinstance(step, ReadJob):
                reply = client._get_job(check_job_id(step.job_id), options)
            elif isinstance(step, SendSubmission):
                reply = client._submit(step.body, options)
            elif isinstance(step, Pause):
                client._sleep(step.seconds)
        except LmmsEvalError as exc:
            error = exc


def _advance(plan: Plan[T], reply: Any, error: LmmsEvalError | None) -> tuple[bool, Any]:
    """The plan's next step ``(False, step)``, or its result ``(True, result)``: a
    StopIteration cannot cross from a worker thread to the event loop."""
    try:
        return False, plan.throw(error) if error is not None else plan.send(reply)
    except StopIteration as stop:
        return True, stop.value


def submit_exactly_once(
    client: PlanSender,
    body: EvaluateRequest,
    options: CallOptions = DEFAULT_OPTIONS,
    max_completed_jobs: int = DEFAULT_MAX_COMPLETED_JOBS,
) -> JobSubmitResponse:
    """``evaluate(..., reconcile=True)``: one GET /queue, the POST, and when its answer is
    lost, the reconciliation of ``reconcile`` (adopt the job, or send again); every
    request with the options of that evaluate() call."""
    plan = submission_plan(body, max_completed_jobs=max_completed_jobs)
    submitted = drive(client, plan, options)
    return submitted.response
