"""Contains all the data models used in inputs/outputs (pydantic v2).

Each model is loaded on first use (``from lmms_eval_api.models import JobInfo`` loads the job's
models only): building every model's validator took a command that reads one job ~15 ms.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cancel_response import CancelResponse
    from .error_detail import ErrorDetail
    from .evaluate_request import EvaluateRequest
    from .evaluate_request_model_args_type_0 import EvaluateRequestModelArgsType0
    from .health_response import HealthResponse
    from .http_validation_error import HTTPValidationError
    from .job_info import JobInfo
    from .job_info_result_type_0 import JobInfoResultType0
    from .job_status import JobStatus
    from .job_submit_response import JobSubmitResponse
    from .merge_request import MergeRequest
    from .merge_request_checkpoint_type import MergeRequestCheckpointType
    from .merge_response import MergeResponse
    from .model_list_response import ModelListResponse
    from .model_result_files import ModelResultFiles
    from .queue_status_response import QueueStatusResponse
    from .task_list_response import TaskListResponse
    from .validation_error import ValidationError
    from .validation_error_context import ValidationErrorContext

# Each public name -> the module under this package that defines it.
_MODULES = {
    "CancelResponse": ".cancel_response",
    "ErrorDetail": ".error_detail",
    "EvaluateRequest": ".evaluate_request",
    "EvaluateRequestModelArgsType0": ".evaluate_request_model_args_type_0",
    "HealthResponse": ".health_response",
    "HTTPValidationError": ".http_validation_error",
    "JobInfo": ".job_info",
    "JobInfoResultType0": ".job_info_result_type_0",
    "JobStatus": ".job_status",
    "JobSubmitResponse": ".job_submit_response",
    "MergeRequest": ".merge_request",
    "MergeRequestCheckpointType": ".merge_request_checkpoint_type",
    "MergeResponse": ".merge_response",
    "ModelListResponse": ".model_list_response",
    "ModelResultFiles": ".model_result_files",
    "QueueStatusResponse": ".queue_status_response",
    "TaskListResponse": ".task_list_response",
    "ValidationError": ".validation_error",
    "ValidationErrorContext": ".validation_error_context",
}


if not TYPE_CHECKING:  # to a type checker, a module __getattr__ makes every name exist

    def __getattr__(name: str) -> Any:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = (
    "CancelResponse",
    "ErrorDetail",
    "EvaluateRequest",
    "EvaluateRequestModelArgsType0",
    "HealthResponse",
    "HTTPValidationError",
    "JobInfo",
    "JobInfoResultType0",
    "JobStatus",
    "JobSubmitResponse",
    "MergeRequest",
    "MergeRequestCheckpointType",
    "MergeResponse",
    "ModelListResponse",
    "ModelResultFiles",
    "QueueStatusResponse",
    "TaskListResponse",
    "ValidationError",
    "ValidationErrorContext",
)
