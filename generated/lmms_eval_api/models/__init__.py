"""Contains all the data models used in inputs/outputs (pydantic v2)"""

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

# Models refer to each other through postponed annotations; resolve them all at once,
# now that every model is importable.
_NAMESPACE = {name: value for name, value in globals().items() if not name.startswith("_")}
for _model in list(_NAMESPACE.values()):
    if isinstance(_model, type) and hasattr(_model, "model_rebuild"):
        _model.model_rebuild(_types_namespace=_NAMESPACE)

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
