from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ..models.evaluate_request import EvaluateRequest
from ..models.job_status import JobStatus
from ..models.model_result_files import ModelResultFiles
from ..types import ApiModel


class JobInfo(ApiModel):
    """JobInfo

    Information about a job.

    Timestamps as datetime objects: created_at_datetime, started_at_datetime, completed_at_datetime.

    Attributes:
        job_id: The job's id, a UUID4 string assigned by the server.
        status: Where the job is: queued, running, or one of the terminal states completed,
            failed, cancelled.
        created_at: When the job was submitted: a naive local ISO 8601 timestamp of the server's
            clock (`datetime.now().isoformat()`, no timezone).
        started_at: When the job started running (naive local ISO 8601 timestamp, no timezone);
            null while queued and for a job cancelled before it ran.
        completed_at: When the job completed, failed or was cancelled (naive local ISO 8601
            timestamp, no timezone); null before that.
        request: The submission as the server validated it, its defaults filled in; model_args
            are echoed as sent, secrets included.
        result: Result files on the server's disk, keyed by the model name lmms-eval derives
            from model_args (`org/x` becomes `org__x`); never metrics. Null unless completed.
        error: Why the job failed: `Evaluation failed with return code N. Last lines of <log>:`
            or `Evaluation produced no parsed results. ...`, then the tail of the evaluation log
            (multi-line, may hold terminal colour codes). Null unless failed.
        position_in_queue: Queued jobs ahead of this one, not counting the running job (0 is
            next). Recomputed on each read while queued; never cleared, so a running or finished job
            still shows its last value.
    """

    job_id: str = Field(description="The job's id, a UUID4 string assigned by the server.")
    status: JobStatus = Field(
        description=(
            "Where the job is: queued, running, or one of the terminal states completed, "
            "failed, cancelled."
        )
    )
    created_at: str = Field(
        description=(
            "When the job was submitted: a naive local ISO 8601 timestamp of the server's "
            "clock (`datetime.now().isoformat()`, no timezone)."
        )
    )
    started_at: str | None = Field(
        default=None,
        description=(
            "When the job started running (naive local ISO 8601 timestamp, no timezone); null "
            "while queued and for a job cancelled before it ran."
        ),
    )
    completed_at: str | None = Field(
        default=None,
        description=(
            "When the job completed, failed or was cancelled (naive local ISO 8601 timestamp, "
            "no timezone); null before that."
        ),
    )
    request: EvaluateRequest = Field(
        description=(
            "The submission as the server validated it, its defaults filled in; model_args "
            "are echoed as sent, secrets included."
        )
    )
    result: dict[str, ModelResultFiles] | None = Field(
        default=None,
        description=(
            "Result files on the server's disk, keyed by the model name lmms-eval derives "
            "from model_args (`org/x` becomes `org__x`); never metrics. Null unless "
            "completed."
        ),
    )
    error: str | None = Field(
        default=None,
        description=(
            "Why the job failed: `Evaluation failed with return code N. Last lines of <log>:` "
            "or `Evaluation produced no parsed results. ...`, then the tail of the evaluation "
            "log (multi-line, may hold terminal colour codes). Null unless failed."
        ),
    )
    position_in_queue: int | None = Field(
        default=None,
        description=(
            "Queued jobs ahead of this one, not counting the running job (0 is next). "
            "Recomputed on each read while queued; never cleared, so a running or finished "
            "job still shows its last value."
        ),
    )

    @property
    def created_at_datetime(self) -> datetime | None:
        """``created_at`` as a naive datetime: the server's local time, no tzinfo attached.

        Parsed with ``datetime.fromisoformat``. None for a value that is not an ISO 8601 timestamp (the string stays in
        ``created_at``).
        """
        try:
            return datetime.fromisoformat(self.created_at)
        except ValueError:
            return None

    @property
    def started_at_datetime(self) -> datetime | None:
        """``started_at`` as a naive datetime: the server's local time, no tzinfo attached.

        Parsed with ``datetime.fromisoformat``. None when the server sent
        none, or for a value that is not an ISO 8601 timestamp (the string stays in
        ``started_at``).
        """
        if self.started_at is None:
            return None
        try:
            return datetime.fromisoformat(self.started_at)
        except ValueError:
            return None

    @property
    def completed_at_datetime(self) -> datetime | None:
        """``completed_at`` as a naive datetime: the server's local time, no tzinfo attached.

        Parsed with ``datetime.fromisoformat``. None when the server sent
        none, or for a value that is not an ISO 8601 timestamp (the string stays in
        ``completed_at``).
        """
        if self.completed_at is None:
            return None
        try:
            return datetime.fromisoformat(self.completed_at)
        except ValueError:
            return None
