from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class QueueStatusResponse(ApiModel):
    """QueueStatusResponse

    Response for queue status.

    Attributes:
        queue_size:
        running_job:
        queued_jobs:
        completed_jobs:
        failed_jobs:
    """

    queue_size: int
    running_job: str | None = Field(default=None)
    queued_jobs: list[str]
    completed_jobs: int
    failed_jobs: int
