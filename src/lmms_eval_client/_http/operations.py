"""The eight operations of the contract, each declared once: how it is sent and answered.

The clients look up here which model an answer must parse into, whether a request may
be repeated, and whether its path names a job (so that a 404 means "no such job"). A
new operation of ``openapi.yaml`` gets one row here and one method in ``_async/client.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .retry import Idempotency

if TYPE_CHECKING:
    from lmms_eval_api.models import (
        CancelResponse,
        HealthResponse,
        JobInfo,
        JobSubmitResponse,
        MergeResponse,
        ModelListResponse,
        QueueStatusResponse,
        TaskListResponse,
    )

T = TypeVar("T")


@dataclass(frozen=True)
class Operation(Generic[T]):
    """One operation: its ``operationId`` in openapi.yaml and how the facade treats it."""

    operation_id: str
    response_model: str
    """The model its answer parses into, by name in ``lmms_eval_api.models``: the models
    are imported with the first answer, not with the SDK (pydantic's machinery and 19
    models cost more than importing httpx)."""
    idempotency: Idempotency
    """UNSAFE: a repeat may duplicate work (a second GPU job), so never resent blindly."""
    about_job: bool = False
    """The path names a job id: a 404 becomes JobNotFoundError."""
    maybe_done: str = ""
    """For an UNSAFE operation: what to check when its answer was lost (it may have run)."""

    @property
    def response(self) -> type[T]:
        """The model class of its answer (imports the generated models)."""
        models: Any = importlib.import_module("lmms_eval_api.models")
        return cast("type[T]", getattr(models, self.response_model))


# What an error says when the answer to an operation that must not run twice was lost.
SUBMISSION_MAYBE_DONE = (
    "The request may have reached the server, so it may have been carried out: "
    "it was not retried, to never run it twice. Check get_queue_status() "
    "(queued_jobs, running_job) before submitting again."
)
MERGE_MAYBE_DONE = (
    "The request may have reached the server, so the merge may have been carried out, "
    "or may still be running there (the server merges synchronously; a merge never enters "
    "the queue): it was not retried. Look for the merged checkpoint at output_path before "
    "merging again, and give merge_checkpoint a longer timeout= for a large checkpoint."
)


HEALTH: Operation[HealthResponse] = Operation("health", "HealthResponse", Idempotency.SAFE)
LIST_TASKS: Operation[TaskListResponse] = Operation(
    "list_tasks", "TaskListResponse", Idempotency.SAFE
)
LIST_MODELS: Operation[ModelListResponse] = Operation(
    "list_models", "ModelListResponse", Idempotency.SAFE
)
MERGE_CHECKPOINT: Operation[MergeResponse] = Operation(
    "merge_checkpoint", "MergeResponse", Idempotency.UNSAFE, maybe_done=MERGE_MAYBE_DONE
)
SUBMIT_EVALUATION: Operation[JobSubmitResponse] = Operation(
    "submit_evaluation", "JobSubmitResponse", Idempotency.UNSAFE, maybe_done=SUBMISSION_MAYBE_DONE
)
GET_JOB: Operation[JobInfo] = Operation("get_job", "JobInfo", Idempotency.SAFE, about_job=True)
# Repeating a cancel changes nothing more; only its answer may change (see cancel_job).
CANCEL_JOB: Operation[CancelResponse] = Operation(
    "cancel_job", "CancelResponse", Idempotency.SAFE, about_job=True
)
GET_QUEUE_STATUS: Operation[QueueStatusResponse] = Operation(
    "get_queue_status", "QueueStatusResponse", Idempotency.SAFE
)

OPERATIONS = (
    HEALTH,
    LIST_TASKS,
    LIST_MODELS,
    MERGE_CHECKPOINT,
    SUBMIT_EVALUATION,
    GET_JOB,
    CANCEL_JOB,
    GET_QUEUE_STATUS,
)
