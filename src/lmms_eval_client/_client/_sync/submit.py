# GENERATED FILE: made from src/lmms_eval_client/_client/_async/submit.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""Driving a submission plan of ``_reconcile``: each request it asks for, sent by a client.

Generated from ``_client/_async/submit.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from lmms_eval_api.api.jobs import submit_evaluation as _op_submit_evaluation
from lmms_eval_api.models import EvaluateRequest, JobSubmitResponse

from ..._exceptions import LmmsEvalError
from ..._http import operations as ops
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
    from .client import EvalClient

T = TypeVar("T")


def drive(client: EvalClient, plan: Plan[T]) -> T:
    """Run a plan: send what it asks for through ``client``; what it returns.

    Each request's typed error is thrown into the plan, which decides what it means.
    """
    reply: Any = None
    error: LmmsEvalError | None = None
    while True:
        try:
            step = plan.throw(error) if error is not None else plan.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result
        reply, error = None, None
        try:
            if isinstance(step, ReadQueue):
                reply = client.get_queue_status()
            elif isinstance(step, ReadJob):
                reply = client.get_job(step.job_id)
            elif isinstance(step, SendSubmission):
                send = partial(
                    _op_submit_evaluation.sync_detailed, client=client._api, body=step.body
                )
                reply = client._request(ops.SUBMIT_EVALUATION, send)
            elif isinstance(step, Pause):
                client._sleep(step.seconds)
        except LmmsEvalError as exc:
            error = exc


def submit_exactly_once(
    client: EvalClient,
    body: EvaluateRequest,
    max_completed_jobs: int = DEFAULT_MAX_COMPLETED_JOBS,
) -> JobSubmitResponse:
    """``evaluate(..., reconcile=True)``: one GET /queue, the POST, and when its answer is
    lost, the reconciliation of ``_reconcile`` (adopt the job, or send again)."""
    submitted = drive(client, submission_plan(body, max_completed_jobs=max_completed_jobs))
    return submitted.response
