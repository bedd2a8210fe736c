from __future__ import annotations

from pydantic import Field

from ..models.job_status import JobStatus
from ..types import ApiModel


class JobSubmitResponse(ApiModel):
    """JobSubmitResponse

    Response when submitting a job.

    Attributes:
        job_id: The new job's id, a UUID4 string; use it with GET and DELETE /jobs/{job_id}.
        status: Always `queued` on submission, even when the job starts at once.
        position_in_queue: Jobs waiting ahead of this one when it was queued, not counting the
            running job (cancelled jobs not yet dequeued still count).
        message: `Job queued successfully. Position in queue: <position>`.
    """

    job_id: str = Field(
        description="The new job's id, a UUID4 string; use it with GET and DELETE /jobs/{job_id}."
    )
    status: JobStatus = Field(
        description="Always `queued` on submission, even when the job starts at once."
    )
    position_in_queue: int = Field(
        description=(
            "Jobs waiting ahead of this one when it was queued, not counting the running job "
            "(cancelled jobs not yet dequeued still count)."
        )
    )
    message: str = Field(description="`Job queued successfully. Position in queue: <position>`.")
