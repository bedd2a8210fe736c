from __future__ import annotations

from ..models.job_status import JobStatus
from ..types import ApiModel


class JobSubmitResponse(ApiModel):
    """JobSubmitResponse

    Response when submitting a job.

    Attributes:
        job_id:
        status: Status of an evaluation job.
        position_in_queue:
        message:
    """

    job_id: str
    status: JobStatus
    position_in_queue: int
    message: str
