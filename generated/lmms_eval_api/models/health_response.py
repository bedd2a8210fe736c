from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ..types import ApiModel


class HealthResponse(ApiModel):
    """HealthResponse

    Health check response.

    Timestamps as datetime objects: timestamp_datetime.

    Attributes:
        status: Always `healthy` when the server answers.
        timestamp: The server's current time, a naive local ISO 8601 timestamp (no timezone).
        queue_size: Entries in the server's job queue: queued jobs plus cancelled ones not yet
            dequeued; the running job is not counted (GET /queue's queue_size leaves cancelled jobs
            out).
    """

    status: str = Field(description="Always `healthy` when the server answers.")
    timestamp: str = Field(
        description="The server's current time, a naive local ISO 8601 timestamp (no timezone)."
    )
    queue_size: int = Field(
        description=(
            "Entries in the server's job queue: queued jobs plus cancelled ones not yet "
            "dequeued; the running job is not counted (GET /queue's queue_size leaves "
            "cancelled jobs out)."
        )
    )

    @property
    def timestamp_datetime(self) -> datetime | None:
        """``timestamp`` as a naive datetime: the server's local time, no tzinfo attached.

        Parsed with ``datetime.fromisoformat``. None for a value that is not an ISO 8601 timestamp (the string stays in
        ``timestamp``).
        """
        try:
            return datetime.fromisoformat(self.timestamp)
        except ValueError:
            return None
