"""create_app(): the FastAPI application speaking lmms-eval 0.7.3's HTTP API.

Request and response bodies are the generated models of ``lmms_eval_api.models``: the
local server and the SDK share one contract, openapi.yaml.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures at run time.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from lmms_eval_api import models as api
from lmms_eval_api.models import (
    CancelResponse,
    ErrorDetail,
    EvaluateRequest,
    HealthResponse,
    JobInfo,
    JobStatus,
    JobSubmitResponse,
    MergeResponse,
    QueueStatusResponse,
)

from ._config import LocalServerConfig
from ._scheduler import CannotCancel, JobNotFound, Scheduler

TITLE = "LMMS-Eval Server"
DESCRIPTION = "HTTP server for running lmms-eval evaluations"
LMMS_EVAL_VERSION = "0.7.3"

# What the real server answers to POST /merge without the lmms_engine package, which
# it imports before looking at the checkpoint at all.
MERGE_UNAVAILABLE = (
    "lmms_engine not available: lmms_engine package not found. "
    "Please install lmms-engine to use checkpoint merging."
)


class MergeRequest(api.MergeRequest):
    """Request model for merging FSDP2 sharded checkpoints.

    checkpoint_type accepts only the contract's values: the generated enum is open (it
    parses values a newer server may send), the real server's field is a closed
    ``Literal`` that answers 422 to anything else.
    """

    checkpoint_type: Literal["regular", "ema"] = Field(  # type: ignore[assignment]
        default="regular",
        description=(
            "Type of checkpoint to merge: 'regular' for main model weights, 'ema' for EMA weights"
        ),
    )


class TaskListResponse(api.TaskListResponse):
    """Available evaluation tasks, or an empty list and the reason in `error`.

    ``error`` is sent only when there is one, never as null (hence its schema).
    """

    error: str | SkipJsonSchema[None] = None


class ModelListResponse(api.ModelListResponse):
    """Available model types, or an empty list and the reason in `error`.

    ``error`` is sent only when there is one, never as null (hence its schema).
    """

    error: str | SkipJsonSchema[None] = None


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorDetail, "description": description}


def create_app(config: LocalServerConfig | None = None) -> FastAPI:
    """A new lmms-eval-compatible ASGI app with its own jobs, queue and worker.

    The worker runs while the app's lifespan does: serve it with an ASGI server (uvicorn,
    :class:`LocalServer`) or in process with :func:`asgi_client`.

    Args:
        config: How the server and its simulated evaluations behave; default
            ``LocalServerConfig()``.
    """
    if config is not None and not isinstance(config, LocalServerConfig):
        raise TypeError(f"config must be a LocalServerConfig, got {type(config).__name__}")
    settings = config if config is not None else LocalServerConfig()
    schedulers: list[Scheduler] = []

    def scheduler() -> Scheduler:
        if not schedulers:
            raise RuntimeError(
                "the lmms-eval local server's lifespan is not running: serve the app with "
                "an ASGI server, or use lmms_eval_client.testing.asgi_client()"
            )
        return schedulers[-1]

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        # (kept on the app for LocalServer.start() to say: uvicorn only logs it)
        served.state.startup_error = None
        if schedulers:  # its requests would all reach the latest one's jobs and queue
            served.state.startup_error = (
                "this app is served already: each server needs its own create_app() (an "
                "app's jobs and queue belong to the one server serving it)"
            )
            raise RuntimeError(served.state.startup_error)
        running = Scheduler(settings)
        running.start()
        schedulers.append(running)
        try:
            yield
        finally:
            schedulers.remove(running)
            await running.stop()

    app = FastAPI(
        title=TITLE,
        description=DESCRIPTION,
        version=LMMS_EVAL_VERSION,
        lifespan=lifespan,
    )
    app.state.config = settings

    @app.get(
        "/health",
        response_model=HealthResponse,
        tags=["server"],
        summary="Health Check",
        operation_id="health",
    )
    async def health_check() -> HealthResponse:
        """Health check endpoint."""
        return HealthResponse(
            status="healthy",
            timestamp=datetime.now().isoformat(),
            queue_size=scheduler().queue.qsize(),
        )

    @app.post(
        "/evaluate",
        response_model=JobSubmitResponse,
        tags=["jobs"],
        summary="Submit Evaluation",
        operation_id="submit_evaluation",
    )
    async def submit_evaluation(eval_request: EvaluateRequest) -> JobSubmitResponse:
        """Submit an evaluation job to the queue.

        The job will be queued and processed sequentially.
        Use GET /jobs/{job_id} to check status and retrieve results.
        """
        # The real request model ignores fields it does not know; ours keeps them.
        known = eval_request.model_dump(exclude=set(eval_request.model_extra or ()))
        job_id, position = scheduler().submit(EvaluateRequest.model_validate(known))
        return JobSubmitResponse(
            job_id=job_id,
            status=JobStatus.QUEUED,
            position_in_queue=position,
            message=f"Job queued successfully. Position in queue: {position}",
        )

    @app.get(
        "/jobs/{job_id}",
        response_model=JobInfo,
        tags=["jobs"],
        summary="Get Job Status",
        operation_id="get_job",
        responses={
            404: _error(
                "No such job: never submitted, evicted after max_completed_jobs, or lost in "
                "a server restart (`Job <id> not found`)."
            )
        },
    )
    async def get_job_status(job_id: str) -> JobInfo:
        """Get the status and results of a job."""
        try:
            return scheduler().get(job_id)
        except JobNotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    @app.delete(
        "/jobs/{job_id}",
        response_model=CancelResponse,
        tags=["jobs"],
        summary="Cancel Job",
        operation_id="cancel_job",
        responses={
            200: {"description": "The queued job was cancelled (`Job <id> cancelled`)."},
            400: _error(
                "The job is running (`Cannot cancel a running job`) or already finished "
                "(`Job already finished or cancelled`)."
            ),
            404: _error("No such job (`Job <id> not found`)."),
        },
    )
    async def cancel_job(job_id: str) -> CancelResponse:
        """Cancel a queued job.

        Note: Running jobs cannot be cancelled.
        """
        try:
            return CancelResponse(message=scheduler().cancel(job_id))
        except JobNotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        except CannotCancel as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None

    @app.get(
        "/queue",
        response_model=QueueStatusResponse,
        tags=["jobs"],
        summary="Get Queue Status",
        operation_id="get_queue_status",
    )
    async def get_queue_status() -> QueueStatusResponse:
        """Get the current queue status."""
        return QueueStatusResponse.model_validate(scheduler().stats())

    @app.get(
        "/tasks",
        response_model=TaskListResponse,
        response_model_exclude_unset=True,
        tags=["server"],
        summary="List Available Tasks",
        operation_id="list_tasks",
    )
    async def list_available_tasks() -> TaskListResponse:
        """List all available evaluation tasks.

        When the server cannot index its tasks it still answers 200, with an empty
        list and the reason in `error`.
        """
        if settings.tasks_error is not None:
            return TaskListResponse(tasks=[], error=settings.tasks_error)
        return TaskListResponse(tasks=list(settings.tasks))

    @app.get(
        "/models",
        response_model=ModelListResponse,
        response_model_exclude_unset=True,
        tags=["server"],
        summary="List Available Models",
        operation_id="list_models",
    )
    async def list_available_models() -> ModelListResponse:
        """List all available model types.

        When the server cannot list its models it still answers 200, with an empty
        list and the reason in `error`.
        """
        if settings.models_error is not None:
            return ModelListResponse(models=[], error=settings.models_error)
        return ModelListResponse(models=list(settings.models))

    @app.post(
        "/merge",
        response_model=MergeResponse,
        tags=["server"],
        summary="Merge Checkpoint",
        operation_id="merge_checkpoint",
        responses={
            400: _error("The merger rejected its arguments (ValueError)."),
            404: _error("The checkpoint path does not exist (FileNotFoundError)."),
            500: _error(
                "lmms_engine is not installed (`lmms_engine not available: ...`) or the "
                "merge failed (`Merge failed: ...`)."
            ),
        },
    )
    async def merge_checkpoint(merge_request: MergeRequest) -> MergeResponse:
        """Merge FSDP2 sharded checkpoint into a single consolidated checkpoint.

        This endpoint allows merging of distributed training checkpoints for use
        in evaluation or inference. The merge operation runs synchronously.
        """
        # As the real server without lmms_engine (it is not an lmms-eval dependency).
        raise HTTPException(status_code=500, detail=MERGE_UNAVAILABLE)

    return app
