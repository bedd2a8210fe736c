from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from ..models.job_status import JobStatus
from ..types import ApiModel

if TYPE_CHECKING:  # resolved at run time by models/__init__.py: no import cycles
    from ..models.evaluate_request import EvaluateRequest
    from ..models.model_result_files import ModelResultFiles


class JobInfo(ApiModel):
    """JobInfo

    Information about a job.

    Attributes:
        job_id:
        status: Status of an evaluation job.
        created_at: Naive local ISO 8601 timestamp (no timezone).
        started_at:
        completed_at:
        request: Request model for evaluation endpoint.
        result: Result files on the server's disk, keyed by the model name lmms-eval derives from
            model_args.
        error:
        position_in_queue:
    """

    job_id: str
    status: JobStatus
    created_at: str
    started_at: str | None = Field(default=None)
    completed_at: str | None = Field(default=None)
    request: EvaluateRequest
    result: dict[str, ModelResultFiles] | None = Field(default=None)
    error: str | None = Field(default=None)
    position_in_queue: int | None = Field(default=None)
