"""Typed Python SDK for the lmms-eval evaluation server.

>>> from lmms_eval_client import EvalClient
>>> with EvalClient("http://localhost:8000") as client:
...     job = client.evaluate(model="qwen2_vl", tasks=["mmmu_val"])
...     done = client.wait_for_job(job.job_id)
...     results = client.load_results(done)

Results are pydantic models (also readable by key, as dicts were); errors derive from
:class:`LmmsEvalError`.

Every public name is importable from here. They are loaded on first use (PEP 562), so
``import lmms_eval_client`` costs almost nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._public_names import WHERE as _WHERE
from ._version import __version__

# The public names: type checkers read these imports, and `make generate`
# (codegen/public_names.py) writes them into _public_names.py, from which __getattr__ loads
# each name on first use. A new public name: its import here, its entry in __all__.
if TYPE_CHECKING:
    from lmms_eval_api.models import (
        CancelResponse,
        EvaluateRequest,
        HealthResponse,
        JobInfo,
        JobStatus,
        JobSubmitResponse,
        MergeRequest,
        MergeResponse,
        ModelResultFiles,
        QueueStatusResponse,
    )

    from ._client._async.client import AsyncEvalClient
    from ._client._sync.client import EvalClient
    from ._client.arguments import CheckpointType, ModelNameWarning
    from ._client.wait import process_job_status
    from ._exceptions import (
        APIConnectionError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        DiscoveryError,
        EventLoopError,
        InternalServerError,
        InvalidArgumentError,
        JobCancelledError,
        JobError,
        JobFailedError,
        JobNotFoundError,
        LmmsEvalError,
        MissingDependencyError,
        NoServerAvailableError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ResponseTooLargeError,
        ServerUnreachableError,
        UnprocessableEntityError,
        WaitTimeoutError,
    )
    from ._http.config import DEFAULT_TIMEOUT
    from ._json import json_default
    from ._pool._async.pool import AsyncEvalPool
    from ._pool._sync.pool import EvalPool
    from ._pool.config import BASE_URLS_ENV
    from ._pool.errors import AmbiguousJobIdError
    from ._pool.status import (
        PoolHealth,
        PoolJob,
        PoolJobSubmitResponse,
        PoolQueueStatus,
        ServerHealth,
        ServerQueue,
    )
    from ._report import write_report
    from ._report.compare import Comparison, Flip, MetricComparison, compare
    from ._report.stats import PairedTest, paired_ttest
    from ._results.errors import (
        MetricNotFoundError,
        ResultsError,
        ResultsFormatError,
        ResultsNotReachableError,
        ResultsTooLargeError,
        ResultsUnavailableError,
        SamplesNotFoundError,
    )
    from ._results.eval_log import eval_log_tail
    from ._results.file_access import FileSystem, resolve_server_path
    from ._results.files import load_job_results, results_of_job
    from ._results.metrics import Metric
    from ._results.output_dirs import OUTPUT_ROOT_ENV, output_dir_for
    from ._results.path_map import PATH_MAP_ENV, parse_path_map
    from ._results.results import EvalResults
    from ._results.samples import (
        Sample,
        TokenCount,
        iter_samples,
    )
    from ._results.sections import (
        Efficiency,
        EfficiencyStats,
        EvaluationConfig,
        NSamples,
        TaskConfig,
        Throughput,
        TokenUsage,
        Usage,
    )
    from ._runs._async.run import AsyncEvalRun
    from ._runs._sync.run import EvalRun
    from ._runs.errors import (
        CorruptLedgerError,
        ForeignLedgerError,
        JobLostError,
        LedgerAuthError,
        LedgerBusyError,
        LedgerConnectionError,
        LedgerError,
        LedgerFullError,
        LedgerNotFoundError,
        LedgerReadOnlyError,
        NetworkFilesystemError,
        NewerLedgerError,
        RehomeConflictError,
        RunTimeoutError,
        SubmissionUnresolvedError,
        UncoveredServersError,
        UncoveredServersWarning,
        UnknownJobError,
    )
    from ._runs.options import ALL_COMPLETED, FIRST_COMPLETED, RetryOnFailure, WaitResult
    from ._runs.outcomes import (
        JobCancelled,
        JobCompleted,
        JobFailed,
        JobLost,
        JobOutcome,
        Observation,
        TrackedJob,
        raise_for_outcome,
    )
    from ._runs.table import MetricRow
    from ._secret_args import SECRET_ARG_WORDS, SECRET_ARGS_ENV
    from ._trackers.base import MetricRowLike, Sink, StepLabelError, TrackerError
    from ._trackers.callback_sink import CallbackSink
    from ._trackers.mlflow_sink import MLflowSink
    from ._trackers.tensorboard_sink import TensorBoardSink
    from ._trackers.wandb_sink import WandbSink
    from ._trackers.writes import export_to
    from ._watch.checkpoint import Checkpoint
    from ._watch.errors import WatchedDirectoryMissingError, WatchError, WatchPermissionError
    from ._watch.readiness import MarkerFile, ReadinessRule, StableSize
    from ._watch.submission import CheckpointSubmission, submit_checkpoint
    from ._watch.watcher import CheckpointWatcher


if not TYPE_CHECKING:  # to a type checker, a module __getattr__ makes every name exist

    def __getattr__(name: str) -> Any:
        where = _WHERE.get(name)
        if where is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where, __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ALL_COMPLETED",
    "BASE_URLS_ENV",
    "DEFAULT_TIMEOUT",
    "FIRST_COMPLETED",
    "OUTPUT_ROOT_ENV",
    "PATH_MAP_ENV",
    "SECRET_ARGS_ENV",
    "SECRET_ARG_WORDS",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousJobIdError",
    "AsyncEvalClient",
    "AsyncEvalPool",
    "AsyncEvalRun",
    "AuthenticationError",
    "BadRequestError",
    "CallbackSink",
    "CancelResponse",
    "Checkpoint",
    "CheckpointSubmission",
    "CheckpointType",
    "CheckpointWatcher",
    "ClientClosedError",
    "Comparison",
    "CorruptLedgerError",
    "DiscoveryError",
    "Efficiency",
    "EfficiencyStats",
    "EvalClient",
    "EvalPool",
    "EvalResults",
    "EvalRun",
    "EvaluateRequest",
    "EvaluationConfig",
    "EventLoopError",
    "FileSystem",
    "Flip",
    "ForeignLedgerError",
    "HealthResponse",
    "InternalServerError",
    "InvalidArgumentError",
    "JobCancelled",
    "JobCancelledError",
    "JobCompleted",
    "JobError",
    "JobFailed",
    "JobFailedError",
    "JobInfo",
    "JobLost",
    "JobLostError",
    "JobNotFoundError",
    "JobOutcome",
    "JobStatus",
    "JobSubmitResponse",
    "LedgerAuthError",
    "LedgerBusyError",
    "LedgerConnectionError",
    "LedgerError",
    "LedgerFullError",
    "LedgerNotFoundError",
    "LedgerReadOnlyError",
    "LmmsEvalError",
    "MLflowSink",
    "MarkerFile",
    "MergeRequest",
    "MergeResponse",
    "Metric",
    "MetricComparison",
    "MetricNotFoundError",
    "MetricRow",
    "MetricRowLike",
    "MissingDependencyError",
    "ModelNameWarning",
    "ModelResultFiles",
    "NSamples",
    "NetworkFilesystemError",
    "NewerLedgerError",
    "NoServerAvailableError",
    "NotFoundError",
    "Observation",
    "PairedTest",
    "PermissionDeniedError",
    "PoolHealth",
    "PoolJob",
    "PoolJobSubmitResponse",
    "PoolQueueStatus",
    "QueueStatusResponse",
    "RateLimitError",
    "ReadinessRule",
    "RehomeConflictError",
    "ResponseTooLargeError",
    "ResultsError",
    "ResultsFormatError",
    "ResultsNotReachableError",
    "ResultsTooLargeError",
    "ResultsUnavailableError",
    "RetryOnFailure",
    "RunTimeoutError",
    "Sample",
    "SamplesNotFoundError",
    "ServerHealth",
    "ServerQueue",
    "ServerUnreachableError",
    "Sink",
    "StableSize",
    "StepLabelError",
    "SubmissionUnresolvedError",
    "TaskConfig",
    "TensorBoardSink",
    "Throughput",
    "TokenCount",
    "TokenUsage",
    "TrackedJob",
    "TrackerError",
    "UncoveredServersError",
    "UncoveredServersWarning",
    "UnknownJobError",
    "UnprocessableEntityError",
    "Usage",
    "WaitResult",
    "WaitTimeoutError",
    "WandbSink",
    "WatchError",
    "WatchPermissionError",
    "WatchedDirectoryMissingError",
    "__version__",
    "compare",
    "eval_log_tail",
    "export_to",
    "iter_samples",
    "json_default",
    "load_job_results",
    "output_dir_for",
    "paired_ttest",
    "parse_path_map",
    "process_job_status",
    "raise_for_outcome",
    "resolve_server_path",
    "results_of_job",
    "submit_checkpoint",
    "write_report",
]
