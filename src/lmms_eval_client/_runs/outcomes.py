"""A run's jobs as data: ``TrackedJob`` (what the ledger knows of one submission) and how a
job ended (``JobCompleted``, ``JobFailed``, ``JobCancelled``, ``JobLost``), each with its labels.

An outcome is a value, not an exception: a failed job is a normal result of an evaluation
run. ``raise_for_outcome`` turns one into the client's exceptions for callers who want them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lmms_eval_api.models import EvaluateRequest, JobInfo

from .._client.wait import job_failed_error
from .._exceptions import JobCancelledError
from .._results.redaction import redacted_error
from .._text import failure_reason
from .errors import JobLostError

# The states of a run's job live in states.py, which imports no pydantic (what the run's
# own modules read at import time); here too, as they always were.
from .states import (
    CANCELLED as CANCELLED,
)
from .states import (
    COMPLETED as COMPLETED,
)
from .states import (
    FAILED as FAILED,
)
from .states import (
    FINISHED as FINISHED,
)
from .states import (
    LOST as LOST,
)
from .states import (
    QUEUED as QUEUED,
)
from .states import (
    RUNNING as RUNNING,
)
from .states import (
    SUBMITTING as SUBMITTING,
)
from .states import (
    TERMINAL as TERMINAL,
)
from .states import (
    UNSENT as UNSENT,
)

_FROZEN = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class TrackedJob(BaseModel):
    """One submission of an evaluation run, as its ledger records it.

    A snapshot: ``EvalRun.jobs()`` and the outcomes give fresh ones.

    Example::

        job = run.submit(model="qwen2_vl", tasks=["mme"], labels={"epoch": 3})
        print(job.seq, job.job_id, job.state, job.labels["epoch"])
    """

    model_config: ClassVar[ConfigDict] = _FROZEN

    seq: int = Field(description="The run's own id of this submission (1, 2, ...), in order.")
    job_id: str | None = Field(
        description="The server's job id; None while the submission is unanswered or unsent."
    )
    state: str = Field(
        description="submitting, queued, running, completed, failed, cancelled, lost or unsent "
        "(or a status a newer server reports, kept as it is)."
    )
    labels: dict[str, Any] = Field(description="The caller's labels (epoch, step, checkpoint...).")
    request: EvaluateRequest = Field(
        description="The request body that was sent; each secret model_args value (a key "
        "with key, token, secret or password in its name) as the ledger keeps it: a "
        "fingerprint, '***hmac-sha256:...'."
    )
    server: str = Field(description="The base URL of the server the job was sent to.")
    token: str = Field(description="A unique token of this submission (in output_dir if set).")
    attempt: int = Field(description="1 for a submission, 2, 3... for its retries by policy.")
    first_seq: int = Field(description="The seq of the first attempt (itself for attempt 1).")
    retry_of: int | None = Field(description="The seq of the failed attempt this one retries.")
    retried_by: int | None = Field(description="The seq of the attempt that retried this one.")
    info: JobInfo | None = Field(
        description="The last JobInfo read from the server, if any (secret model_args of its "
        "request as fingerprints, as in request)."
    )
    note: str | None = Field(description="Why the job was marked lost or unsent, if it was.")
    last_known_state: str | None = Field(
        description="For a lost job: the state the run last saw it in before it was lost."
    )
    summary: dict[str, Any] | None = Field(
        description="A summary of the results, when a results reader recorded one."
    )
    harvested: bool = Field(
        description="Whether its outcome was taken: returned by harvest() or as_completed(), "
        "or acknowledged after a delivery."
    )
    key: str | None = Field(
        default=None,
        description="The key it was submitted under (``submit(..., key=...)``), if any; "
        "retries by policy carry their first attempt's key here too.",
    )
    recovered: bool = Field(
        default=False,
        description="Whether the run found it lost and completed it from the results in its "
        "own output folder.",
    )
    created_at: datetime = Field(description="When the intent was recorded (UTC).")
    updated_at: datetime = Field(description="When the ledger last changed this job (UTC).")

    @property
    def finished(self) -> bool:
        """Whether the job has ended (completed, failed, cancelled or lost)."""
        return self.state in FINISHED

    @property
    def pending(self) -> bool:
        """Whether the job may still run: submitting, queued, running or an unknown status."""
        return self.state not in TERMINAL

    @property
    def superseded(self) -> bool:
        """Whether a retry by policy replaced this failed attempt."""
        return self.retried_by is not None

    @property
    def output_dir(self) -> str | None:
        """The output_dir that was sent (None: the server picked a temporary one)."""
        return self.request.output_dir


class _Outcome(BaseModel):
    model_config: ClassVar[ConfigDict] = _FROZEN

    job: TrackedJob = Field(description="The job (its final attempt) as the ledger has it.")

    @property
    def labels(self) -> dict[str, Any]:
        """The job's labels."""
        return self.job.labels

    @property
    def job_id(self) -> str | None:
        """The server's job id."""
        return self.job.job_id


class JobCompleted(_Outcome):
    """The job completed; ``info.result`` holds its result files on the server's disk.

    Example::

        for outcome in run.harvest():
            if isinstance(outcome, JobCompleted):
                print(outcome.labels["epoch"], outcome.info.result)
    """

    kind: Literal["completed"] = Field(default="completed", description="Always 'completed'.")
    info: JobInfo = Field(description="The completed job's JobInfo.")
    summary: dict[str, Any] | None = Field(
        default=None, description="The results summary, when one was recorded."
    )

    def raise_for_outcome(self) -> JobInfo:
        """The JobInfo (a completed job raises nothing)."""
        return self.info


class JobFailed(_Outcome):
    """The job failed on the server; ``error`` is the server's text, ``reason`` its gist.

    Example::

        if isinstance(outcome, JobFailed) and "out of memory" in outcome.reason:
            ...
    """

    kind: Literal["failed"] = Field(default="failed", description="Always 'failed'.")
    info: JobInfo = Field(description="The failed job's JobInfo.")
    error: str = Field(
        description="The server's error text (often the tail of the eval log), without the "
        "values of the job's secret model_args or any other api_key=-like value."
    )
    reason: str = Field(description="One line of it that says what went wrong.")

    def raise_for_outcome(self) -> JobInfo:
        """Raise JobFailedError, as ``wait_for_job`` does."""
        raise job_failed_error(self.info, f"job {self.info.job_id}, labels {self.labels}")


class JobCancelled(_Outcome):
    """The job was cancelled before it ran."""

    kind: Literal["cancelled"] = Field(default="cancelled", description="Always 'cancelled'.")
    info: JobInfo = Field(description="The cancelled job's JobInfo.")

    def raise_for_outcome(self) -> JobInfo:
        """Raise JobCancelledError, as ``wait_for_job`` does."""
        raise JobCancelledError(f"Job {self.info.job_id} was cancelled", job=self.info)


class JobLost(_Outcome):
    """The server no longer knows the job (it restarted, or evicted the finished job before
    the run read it), or the submission's answer was lost and could not be resolved."""

    kind: Literal["lost"] = Field(default="lost", description="Always 'lost'.")
    last_state: str = Field(description="The last state the run saw the job in.")
    last_info: JobInfo | None = Field(description="The last JobInfo read, if any.")
    why: str = Field(description="How the run found out.")

    def raise_for_outcome(self) -> JobInfo:
        """Raise JobLostError."""
        raise JobLostError(
            f"Job {self.job_id or '(id unknown)'} was lost (last seen {self.last_state}): "
            f"{self.why}",
            job_id=self.job_id,
            last_state=self.last_state,
            labels=self.labels,
        )


# How a tracked job ended: completed, failed, cancelled, or lost by its server.
JobOutcome = JobCompleted | JobFailed | JobCancelled | JobLost


def raise_for_outcome(outcome: JobOutcome) -> JobInfo:
    """The completed job's JobInfo, or the exception a non-completed outcome stands for.

    Raises JobFailedError, JobCancelledError (as ``wait_for_job``) or JobLostError.

    Example::

        for outcome in run.as_completed():
            info = raise_for_outcome(outcome)  # stop at the first job that did not complete
    """
    return outcome.raise_for_outcome()


def outcome_of(job: TrackedJob) -> JobOutcome | None:
    """The outcome of a finished job; None while it is pending (or when it was never sent)."""
    if job.state == COMPLETED and job.info is not None:
        return JobCompleted(job=job, info=job.info, summary=job.summary)
    if job.state == FAILED and job.info is not None:
        error = redacted_error(job.info) or ""
        return JobFailed(job=job, info=job.info, error=error, reason=failure_reason(error))
    if job.state == CANCELLED and job.info is not None:
        return JobCancelled(job=job, info=job.info)
    if job.state == LOST:
        return JobLost(
            job=job,
            last_state=job.last_known_state or SUBMITTING,
            last_info=job.info,
            why=job.note or "the server no longer knows the job",
        )
    return None


@dataclass(frozen=True)
class Observation:
    """One entry of a job's history in the ledger (append-only).

    Attributes:
        seq: The job's seq.
        at: When it was recorded (UTC).
        event: intent, answer, adopted, unsent, status, lost, harvested, retry or summary;
            held (the answer's job tracked by another submission: this one lost);
            claimed, acknowledged, released (at-least-once delivery: ``receive``, ``ack``,
            ``release``); recovered, recovery-checked (a lost job's output folder read);
            key-passed (never sent: its key taken by a later submission); rehomed.
        state: The job's state after it.
        data: What was observed (a JobInfo, the server's answer, a reason...), as JSON data.
    """

    seq: int
    at: datetime
    event: str
    state: str
    data: Any
