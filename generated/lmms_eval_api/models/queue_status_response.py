from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class QueueStatusResponse(ApiModel):
    """QueueStatusResponse

    Response for queue status.

    Attributes:
        queue_size: Number of queued jobs (the length of queued_jobs); cancelled and running
            jobs are not counted.
        running_job: Id of the job being evaluated now, or null when none is.
        queued_jobs: Ids of the queued jobs, in submission order (the next to run first).
        completed_jobs: Completed jobs the server still remembers (at most max_completed_jobs
            finished jobs are kept; a restart forgets all), not a running total.
        failed_jobs: Failed jobs the server still remembers (as completed_jobs); cancelled jobs
            are counted nowhere.
    """

    queue_size: int = Field(
        description=(
            "Number of queued jobs (the length of queued_jobs); cancelled and running jobs "
            "are not counted."
        )
    )
    running_job: str | None = Field(
        default=None, description="Id of the job being evaluated now, or null when none is."
    )
    queued_jobs: list[str] = Field(
        description="Ids of the queued jobs, in submission order (the next to run first)."
    )
    completed_jobs: int = Field(
        description=(
            "Completed jobs the server still remembers (at most max_completed_jobs finished "
            "jobs are kept; a restart forgets all), not a running total."
        )
    )
    failed_jobs: int = Field(
        description=(
            "Failed jobs the server still remembers (as completed_jobs); cancelled jobs are "
            "counted nowhere."
        )
    )
