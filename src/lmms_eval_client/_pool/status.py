"""What a pool reports: where each job is, and the servers' health and queues together.

The models subclass the client's (``JobSubmitResponse``, ``HealthResponse``,
``QueueStatusResponse``), so code written for one server reads them unchanged; each adds
the per-server detail. The aggregation is pure: the pool gathers the answers, these
functions sum them up.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from lmms_eval_api.models import (
    HealthResponse,
    JobStatus,
    JobSubmitResponse,
    QueueStatusResponse,
)
from lmms_eval_api.types import ApiModel

from .._exceptions import NoServerAvailableError
from .._text import clip

# A job's state as the pool knows it: its last status seen, or one of these.
SUBMITTED, UNREACHABLE, LOST = "submitted", "unreachable", "lost"


class PoolJobSubmitResponse(JobSubmitResponse):
    """What ``evaluate()`` on a pool returns: the server's answer and the server."""

    server: str = Field(description="Base URL of the server that took the job.")


class PoolJob(ApiModel):
    """A job the pool has seen: where it is and what was last known of it."""

    job_id: str = Field(description="The job's id, as its server issued it.")
    server: str = Field(description="Base URL of the server that holds the job.")
    status: JobStatus | None = Field(
        default=None, description="The last status a poll saw; None before the first poll."
    )
    state: str = Field(
        description=(
            "The status, or 'submitted' (not polled yet), 'unreachable' (its server did not "
            "answer the last poll: the job is not lost) or 'lost' (its server no longer knows "
            "it: restarted or evicted)."
        )
    )


class ServerHealth(ApiModel):
    """One server's part of a pool's ``health()``."""

    server: str = Field(description="The server's base URL.")
    healthy: bool = Field(description="Whether it answered and said it is healthy.")
    health: HealthResponse | None = Field(
        default=None, description="Its own /health answer; None when it did not answer."
    )
    error: str | None = Field(default=None, description="Why it did not answer, if it did not.")


class PoolHealth(HealthResponse):
    """A pool's ``health()``: every server's, and a summary in the fields of one server's."""

    status: str = Field(
        description="'healthy' (every server is), 'degraded' (some are) or 'unhealthy' (none)."
    )
    timestamp: str = Field(description="When the pool asked: this machine's naive local time.")
    queue_size: int = Field(description="The sum of the healthy servers' queue_size.")
    servers: list[ServerHealth] = Field(description="Each server's health, in the pool's order.")


class ServerQueue(ApiModel):
    """One server's part of a pool's ``get_queue_status()``."""

    server: str = Field(description="The server's base URL.")
    queue: QueueStatusResponse | None = Field(
        default=None, description="Its own /queue answer; None when it did not answer."
    )
    error: str | None = Field(default=None, description="Why it did not answer, if it did not.")


class PoolQueueStatus(QueueStatusResponse):
    """A pool's ``get_queue_status()``: the servers' queues summed up, and each of them."""

    queue_size: int = Field(description="Queued jobs on every server that answered.")
    running_job: str | None = Field(
        default=None,
        description="The first running job (one server's field); running_jobs lists them all.",
    )
    queued_jobs: list[str] = Field(
        description="The queued jobs of every server that answered, server by server."
    )
    completed_jobs: int = Field(description="Completed jobs the answering servers remember.")
    failed_jobs: int = Field(description="Failed jobs the answering servers remember.")
    running_jobs: list[str] = Field(description="The running job of each server that has one.")
    servers: list[ServerQueue] = Field(description="Each server's queue, in the pool's order.")


def describe(error: BaseException) -> str:
    """A one-line account of why a server did not answer."""
    return clip(f"{type(error).__name__}: {error}".splitlines()[0], 300)


def pool_health(servers: Sequence[str], answers: Sequence[HealthResponse | str]) -> PoolHealth:
    parts = [
        ServerHealth(server=s, healthy=a.status == "healthy", health=a)
        if isinstance(a, HealthResponse)
        else ServerHealth(server=s, healthy=False, error=a)
        for s, a in zip(servers, answers, strict=True)
    ]
    healthy = sum(p.healthy for p in parts)
    status = "healthy" if healthy == len(parts) else "degraded" if healthy else "unhealthy"
    return PoolHealth(
        status=status,
        timestamp=datetime.now().isoformat(),
        queue_size=sum(p.health.queue_size for p in parts if p.health is not None and p.healthy),
        servers=parts,
    )


def pool_queue(
    servers: Sequence[str], answers: Sequence[QueueStatusResponse | str]
) -> PoolQueueStatus:
    """The queues summed up; NoServerAvailableError when no server answered."""
    parts = [
        ServerQueue(server=s, queue=a)
        if isinstance(a, QueueStatusResponse)
        else ServerQueue(server=s, error=a)
        for s, a in zip(servers, answers, strict=True)
    ]
    queues = [p.queue for p in parts if p.queue is not None]
    if not queues:
        reasons = {p.server: p.error or "" for p in parts}
        raise NoServerAvailableError(
            "No server of the pool answered GET /queue: "
            + "; ".join(f"{s}: {why}" for s, why in reasons.items()),
            reasons=reasons,
        )
    running = [q.running_job for q in queues if q.running_job]
    return PoolQueueStatus(
        queue_size=sum(q.queue_size for q in queues),
        running_job=running[0] if running else None,
        queued_jobs=[j for q in queues for j in q.queued_jobs],
        completed_jobs=sum(q.completed_jobs for q in queues),
        failed_jobs=sum(q.failed_jobs for q in queues),
        running_jobs=running,
        servers=parts,
    )


@dataclass
class _Entry:
    status: JobStatus | None = None
    state: str = SUBMITTED


class JobDirectory:
    """Which server holds each job the pool has seen. A job is (server, id): an id means
    something on one server only, and two servers may issue the same one.

    In memory: a new pool finds a job it never saw by asking every server (see the pool),
    or is told with ``adopt()``.
    """

    def __init__(self, servers: Sequence[str]) -> None:
        self._servers = tuple(servers)
        self._entries: dict[tuple[int, str], _Entry] = {}  # (server index, job id)
        self._lock = threading.Lock()

    def add(self, job_id: str, index: int) -> None:
        with self._lock:
            self._entries.setdefault((index, job_id), _Entry())

    def find(self, job_id: str) -> list[int]:
        """The servers (indexes, in pool order) known to hold a job of this id."""
        with self._lock:
            return sorted(index for index, known in self._entries if known == job_id)

    def observe(self, index: int, job_id: str, status: JobStatus) -> None:
        with self._lock:
            entry = self._entries.get((index, job_id))
            if entry is not None:
                entry.status, entry.state = status, str(status)

    def mark(self, index: int, job_id: str, state: str) -> None:
        with self._lock:
            entry = self._entries.get((index, job_id))
            if entry is not None:
                entry.state = state

    def jobs(self) -> list[PoolJob]:
        with self._lock:
            items = list(self._entries.items())
        return [
            PoolJob(job_id=i, server=self._servers[index], status=e.status, state=e.state)
            for (index, i), e in items
        ]
