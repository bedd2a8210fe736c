"""The job scheduler: one queue, one sequential worker, jobs kept in memory.

Same state machine as the real server's JobScheduler. Every change of state happens
between two awaits, so no lock is needed (the event loop runs one coroutine at a time),
and the worker can be cancelled at any await without leaving a half-made change.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime
from typing import Any

from lmms_eval_api.models import EvaluateRequest, JobInfo, JobStatus, ModelResultFiles

from ._config import LocalServerConfig
from ._simulation import EvaluationRun

_FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


def now_iso() -> str:
    """Naive local time in ISO 8601, as every timestamp of the real server."""
    return datetime.now().isoformat()


class JobNotFound(LookupError):
    """No job has this id (never submitted, or evicted)."""


class CannotCancel(ValueError):
    """The job is running or finished; the message says which."""


class Scheduler:
    """Jobs, their queue and the worker that runs them one at a time."""

    def __init__(self, config: LocalServerConfig) -> None:
        self.config = config
        self.jobs: dict[str, JobInfo] = {}
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.current_job_id: str | None = None
        self._worker: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker (in the running event loop)."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="lmms-eval-local-worker"
            )

    async def stop(self) -> None:
        """Stop the worker; a running job stays ``running``, as on the real server."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    # -- operations --------------------------------------------------------------------

    def submit(self, request: EvaluateRequest) -> tuple[str, int]:
        """Queue a job; return its id and position (the queue's size before it)."""
        job_id = str(uuid.uuid4())
        position = self.queue.qsize()
        self.jobs[job_id] = JobInfo(
            job_id=job_id,
            status=JobStatus.QUEUED,
            created_at=now_iso(),
            request=request,
            position_in_queue=position,
        )
        self.queue.put_nowait(job_id)
        return job_id, position

    def get(self, job_id: str) -> JobInfo:
        """A job, its queue position refreshed if it is still queued."""
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"Job {job_id} not found")
        if job.status == JobStatus.QUEUED:
            job.position_in_queue = sum(
                1
                for other in self.jobs.values()
                if other.status == JobStatus.QUEUED and other.created_at < job.created_at
            )
        return job

    def cancel(self, job_id: str) -> str:
        """Cancel a queued job; return the message. It stays in the queue, skipped later."""
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"Job {job_id} not found")
        if job.status == JobStatus.RUNNING:
            raise CannotCancel("Cannot cancel a running job")
        if job.status in _FINISHED:
            raise CannotCancel("Job already finished or cancelled")
        job.status = JobStatus.CANCELLED
        job.completed_at = now_iso()
        return f"Job {job_id} cancelled"

    def stats(self) -> dict[str, Any]:
        """The numbers behind GET /queue."""
        queued = [jid for jid, job in self.jobs.items() if job.status == JobStatus.QUEUED]
        return {
            "queue_size": len(queued),
            "running_job": self.current_job_id,
            "queued_jobs": queued,
            "completed_jobs": sum(j.status == JobStatus.COMPLETED for j in self.jobs.values()),
            "failed_jobs": sum(j.status == JobStatus.FAILED for j in self.jobs.values()),
        }

    def evict_finished(self) -> None:
        """Keep at most max_completed_jobs finished jobs, dropping the oldest completed_at."""
        finished = [(jid, job) for jid, job in self.jobs.items() if job.status in _FINISHED]
        excess = len(finished) - self.config.max_completed_jobs
        if excess <= 0:
            return
        finished.sort(key=lambda item: item[1].completed_at or "")
        for jid, _ in finished[:excess]:
            del self.jobs[jid]

    # -- the worker --------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job_id = await self.queue.get()
            job = self.jobs.get(job_id)
            if job is None or job.status == JobStatus.CANCELLED:
                self.queue.task_done()
                continue
            job.status = JobStatus.RUNNING
            job.started_at = now_iso()
            self.current_job_id = job_id
            try:
                result = await self._evaluate(job.request)
            except asyncio.CancelledError:
                # Shutting down: the job stays "running" forever, as on the real server.
                self.current_job_id = None
                raise
            except Exception as exc:
                self._end(job_id, JobStatus.FAILED, error=str(exc))
            else:
                self._end(job_id, JobStatus.COMPLETED, result=result)

    def _end(
        self,
        job_id: str,
        status: JobStatus,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            job.status = status
            job.completed_at = now_iso()
            if result is not None:
                job.result = {
                    name: ModelResultFiles.model_validate(files) for name, files in result.items()
                }
            job.error = error
        self.current_job_id = None
        self.queue.task_done()
        self.evict_finished()

    async def _evaluate(self, request: EvaluateRequest) -> dict[str, Any]:
        gate = self.config.job_gate
        if gate is not None:  # held, running, before anything happens (as tests/servers.py)
            await gate.pass_through()
        # Files are written in a thread: the real server evaluates in a subprocess and
        # keeps answering meanwhile (a job of a thousand subtasks takes a second to write).
        run = await asyncio.to_thread(EvaluationRun, request, self.config)
        await asyncio.sleep(run.plan.duration)
        return await asyncio.to_thread(run.finish)
