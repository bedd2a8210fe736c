"""The public names of evaluation runs, from ``lmms_eval_client`` once it re-exports them
(the lead's lazy table), else from their modules."""

from __future__ import annotations

try:
    from lmms_eval_client import (  # type: ignore[attr-defined]
        ALL_COMPLETED,
        FIRST_COMPLETED,
        AsyncEvalRun,
        CorruptLedgerError,
        EvalRun,
        ForeignLedgerError,
        JobCancelled,
        JobCompleted,
        JobFailed,
        JobLost,
        JobLostError,
        JobOutcome,
        LedgerBusyError,
        LedgerError,
        LedgerFullError,
        LedgerReadOnlyError,
        NewerLedgerError,
        RetryOnFailure,
        RunTimeoutError,
        SubmissionUnresolvedError,
        TrackedJob,
        raise_for_outcome,
    )
except ImportError:
    from lmms_eval_client._async.run import AsyncEvalRun
    from lmms_eval_client._outcomes import (
        JobCancelled,
        JobCompleted,
        JobFailed,
        JobLost,
        JobOutcome,
        TrackedJob,
        raise_for_outcome,
    )
    from lmms_eval_client._run_errors import (
        CorruptLedgerError,
        ForeignLedgerError,
        JobLostError,
        LedgerBusyError,
        LedgerError,
        LedgerFullError,
        LedgerReadOnlyError,
        NewerLedgerError,
        RunTimeoutError,
        SubmissionUnresolvedError,
    )
    from lmms_eval_client._run_options import ALL_COMPLETED, FIRST_COMPLETED, RetryOnFailure
    from lmms_eval_client._sync.run import EvalRun

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "AsyncEvalRun",
    "CorruptLedgerError",
    "EvalRun",
    "ForeignLedgerError",
    "JobCancelled",
    "JobCompleted",
    "JobFailed",
    "JobLost",
    "JobLostError",
    "JobOutcome",
    "LedgerBusyError",
    "LedgerError",
    "LedgerFullError",
    "LedgerReadOnlyError",
    "NewerLedgerError",
    "RetryOnFailure",
    "RunTimeoutError",
    "SubmissionUnresolvedError",
    "TrackedJob",
    "raise_for_outcome",
]
