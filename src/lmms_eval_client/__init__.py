"""Typed Python SDK for the lmms-eval evaluation server.

>>> from lmms_eval_client import EvalClient
>>> with EvalClient("http://localhost:8000") as client:
...     job = client.evaluate(model="qwen2_vl", tasks=["mmmu_val"])
...     done = client.wait_for_job(job.job_id)

Results are pydantic models (also readable by key, as dicts were); errors derive from
:class:`LmmsEvalError`.
"""

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

from ._client import AsyncEvalClient, EvalClient
from ._core import DEFAULT_TIMEOUT, CheckpointType, process_job_status
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    DiscoveryError,
    InternalServerError,
    InvalidArgumentError,
    JobCancelledError,
    JobError,
    JobFailedError,
    JobNotFoundError,
    LmmsEvalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from ._version import __version__

__all__ = [
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncEvalClient",
    "AuthenticationError",
    "BadRequestError",
    "CancelResponse",
    "CheckpointType",
    "ClientClosedError",
    "DiscoveryError",
    "EvalClient",
    "EvaluateRequest",
    "HealthResponse",
    "InternalServerError",
    "InvalidArgumentError",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobInfo",
    "JobNotFoundError",
    "JobStatus",
    "JobSubmitResponse",
    "LmmsEvalError",
    "MergeRequest",
    "MergeResponse",
    "ModelResultFiles",
    "NotFoundError",
    "PermissionDeniedError",
    "QueueStatusResponse",
    "RateLimitError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "__version__",
    "process_job_status",
]
