"""A fake lmms-eval server for respx: jobs in a dict, one worker in submission order (moved
by the test), a count of every request, and lost answers on cue."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import respx

BASE = "http://lmms.test"


class FakeServer:
    """``with FakeServer().mocked() as server:`` serves BASE through respx."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()
        self.lose_next_answers: list[str] = []  # "before", "after", "after-done"
        self.max_completed_jobs = 100
        self.queue_down = False  # GET /queue answers 503 (a proxy with the server away)
        self.jobs_down = False  # GET /jobs/{id} answers 503
        self.busy_submissions = 0  # this many next POST /evaluate answer 503, creating nothing
        self.on_lose: Callable[[], None] = lambda: None  # runs as an answer is lost

    # -- the server's side --------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> str:
        job_id = str(uuid.uuid4())
        position = len(self.ids("queued"))  # the jobs waiting ahead of it, as the server says
        request = {
            "model_args": None, "num_fewshot": None, "batch_size": None, "device": None,
            "limit": None, "gen_kwargs": None, "log_samples": True, "predict_only": False,
            "num_gpus": 1, "output_dir": None, **body,
        }  # fmt: skip
        self.jobs[job_id] = {
            "job_id": job_id,
            "status": "queued",
            "created_at": "2026-01-01T00:00:00",
            "started_at": None,
            "completed_at": None,
            "request": request,
            "result": None,
            "error": None,
            "position_in_queue": position,
        }
        return job_id

    def ids(self, status: str) -> list[str]:
        return [job_id for job_id, job in self.jobs.items() if job["status"] == status]

    def start_next(self) -> str | None:
        if self.ids("running"):
            return None
        queued = self.ids("queued")
        if not queued:
            return None
        self.jobs[queued[0]]["status"] = "running"
        return queued[0]

    def finish(self, job_id: str, status: str = "completed", error: str | None = None) -> None:
        job = self.jobs[job_id]
        job["status"] = status
        job["completed_at"] = "2026-01-01T00:01:00"
        if status == "completed":
            job["result"] = {"m": {"results": f"/out/{job_id}/results.json", "samples": []}}
        job["error"] = error
        finished = [j for j in self.jobs.values() if j["status"] in ("completed", "failed")]
        while len(finished) > self.max_completed_jobs:
            del self.jobs[finished.pop(0)["job_id"]]

    def run_all(self, status: str = "completed") -> None:
        while True:
            started = self.start_next()
            if started is None:
                running = self.ids("running")
                if not running:
                    return
                started = running[0]
            self.finish(started, status)

    def restart(self) -> None:
        self.jobs.clear()

    # -- HTTP ---------------------------------------------------------------------------

    def _submit(self, request: httpx.Request) -> httpx.Response:
        self.requests["POST /evaluate"] += 1
        if self.busy_submissions:
            self.busy_submissions -= 1
            return httpx.Response(503, json={"detail": "Service Unavailable"})
        lose = self.lose_next_answers.pop(0) if self.lose_next_answers else None
        if lose is not None:
            self.on_lose()
        if lose == "before":
            raise httpx.ReadError("connection reset", request=request)
        job_id = self.create(json.loads(request.content))
        if lose == "after-done":  # created, run and finished before anyone could look
            self.jobs[job_id]["status"] = "running"
            self.finish(job_id)
        if lose == "after-then-down":  # created, then the server is unreachable a while
            self.queue_down = True
        if lose in ("after", "after-done", "after-then-down"):
            raise httpx.ReadError("connection reset", request=request)
        body = {
            "job_id": job_id,
            "status": "queued",
            "position_in_queue": self.jobs[job_id]["position_in_queue"],
            "message": "ok",
        }
        return httpx.Response(200, json=body)

    def _queue(self, request: httpx.Request) -> httpx.Response:
        self.requests["GET /queue"] += 1
        if self.queue_down:
            return httpx.Response(503, json={"detail": "Service Unavailable"})
        running = self.ids("running")
        return httpx.Response(
            200,
            json={
                "queue_size": len(self.ids("queued")),
                "running_job": running[0] if running else None,
                "queued_jobs": self.ids("queued"),
                "completed_jobs": len(self.ids("completed")),
                "failed_jobs": len(self.ids("failed")),
            },
        )

    def _job(self, request: httpx.Request, job_id: str) -> httpx.Response:
        self.requests["GET /jobs"] += 1
        if self.jobs_down:
            return httpx.Response(503, json={"detail": "Service Unavailable"})
        job = self.jobs.get(job_id)
        if job is None:
            return httpx.Response(404, json={"detail": f"Job {job_id} not found"})
        if job["status"] == "queued":  # refreshed, as the server does: the queued ahead
            job["position_in_queue"] = self.ids("queued").index(job_id)
        return httpx.Response(200, json=job)

    @contextmanager
    def mocked(self) -> Iterator[FakeServer]:
        with respx.mock(base_url=BASE, assert_all_called=False) as router:
            router.post("/evaluate").mock(side_effect=self._submit)
            router.get("/queue").mock(side_effect=self._queue)
            router.get(path__regex=r"^/jobs/(?P<job_id>[^/]+)$").mock(side_effect=self._job)
            yield self
