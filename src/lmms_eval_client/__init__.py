"""Typed Python SDK for the lmms-eval evaluation server.

>>> from lmms_eval_client import EvalClient
>>> with EvalClient("http://localhost:8000") as client:
...     job = client.evaluate(model="qwen2_vl", tasks=["mmmu_val"])
...     done = client.wait_for_job(job.job_id)

Results are pydantic models (also readable by key, as dicts were); errors derive from
:class:`LmmsEvalError`.

Every public name is importable from here. They are loaded on first use (PEP 562), so
``import lmms_eval_client`` costs almost nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

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

    from ._arguments import CheckpointType
    from ._async.client import AsyncEvalClient
    from ._config import DEFAULT_TIMEOUT
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
        ResponseTooLargeError,
        UnprocessableEntityError,
        WaitTimeoutError,
    )
    from ._sync.client import EvalClient
    from ._wait import process_job_status

# Where each public name lives (module relative to this package, or absolute).
_MODELS = "lmms_eval_api.models"
_ERRORS = "._exceptions"
_LOCATIONS: dict[str, str] = {
    "EvalClient": "._sync.client",
    "AsyncEvalClient": "._async.client",
    "DEFAULT_TIMEOUT": "._config",
    "CheckpointType": "._arguments",
    "process_job_status": "._wait",
    **dict.fromkeys(
        (
            "CancelResponse",
            "EvaluateRequest",
            "HealthResponse",
            "JobInfo",
            "JobStatus",
            "JobSubmitResponse",
            "MergeRequest",
            "MergeResponse",
            "ModelResultFiles",
            "QueueStatusResponse",
        ),
        _MODELS,
    ),
    **dict.fromkeys(
        (
            "APIConnectionError",
            "APIResponseValidationError",
            "APIStatusError",
            "APITimeoutError",
            "AuthenticationError",
            "BadRequestError",
            "ClientClosedError",
            "DiscoveryError",
            "InternalServerError",
            "InvalidArgumentError",
            "JobCancelledError",
            "JobError",
            "JobFailedError",
            "JobNotFoundError",
            "LmmsEvalError",
            "NotFoundError",
            "PermissionDeniedError",
            "RateLimitError",
            "ResponseTooLargeError",
            "UnprocessableEntityError",
            "WaitTimeoutError",
        ),
        _ERRORS,
    ),
}


def __getattr__(name: str) -> Any:
    where = _LOCATIONS.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
    "ResponseTooLargeError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "__version__",
    "process_job_status",
]
