"""The generated endpoint modules the clients send through, each imported on first use.

They import the generated models, which cost more than httpx itself: loaded with the first
request (see ``_lazy``). Type checkers see the modules themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import LazyModule

__all__ = [
    "cancel_job",
    "get_job",
    "get_queue_status",
    "health",
    "list_models",
    "list_tasks",
    "merge_checkpoint",
    "submit_evaluation",
]

if TYPE_CHECKING:
    from lmms_eval_api.api.jobs import cancel_job, get_job, get_queue_status, submit_evaluation
    from lmms_eval_api.api.server import health, list_models, list_tasks, merge_checkpoint
else:
    cancel_job = LazyModule("lmms_eval_api.api.jobs.cancel_job")
    get_job = LazyModule("lmms_eval_api.api.jobs.get_job")
    get_queue_status = LazyModule("lmms_eval_api.api.jobs.get_queue_status")
    submit_evaluation = LazyModule("lmms_eval_api.api.jobs.submit_evaluation")
    health = LazyModule("lmms_eval_api.api.server.health")
    list_models = LazyModule("lmms_eval_api.api.server.list_models")
    list_tasks = LazyModule("lmms_eval_api.api.server.list_tasks")
    merge_checkpoint = LazyModule("lmms_eval_api.api.server.merge_checkpoint")
