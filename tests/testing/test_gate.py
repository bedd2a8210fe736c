"""JobGate: jobs held running until released, observed by events, not by timing."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient, JobStatus
from lmms_eval_client.testing import JobGate, LocalServer, LocalServerConfig, asgi_client

from .conftest import POLL, QWEN


def test_a_gate_holds_every_job_until_released_then_none(tmp_path: Path) -> None:
    gate = JobGate()
    config = LocalServerConfig(job_duration=0, temp_dir_root=tmp_path, job_gate=gate)
    with LocalServer(config) as server, EvalClient(server.url) as client:
        first = client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        second = client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        gate.wait_until_held()
        assert (gate.held, gate.arrived, gate.released) == (1, 1, False)
        assert client.get_job(first.job_id).status == JobStatus.RUNNING
        assert client.get_job(second.job_id).status == JobStatus.QUEUED
        assert client.get_queue_status().running_job == first.job_id

        gate.release()
        gate.release()  # idempotent
        for job in (first, second):
            done = client.wait_for_job(job.job_id, poll_interval=POLL, timeout=10, verbose=False)
            assert done.status == JobStatus.COMPLETED
        later = client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        done = client.wait_for_job(later.job_id, poll_interval=POLL, timeout=10, verbose=False)
        assert done.status == JobStatus.COMPLETED
    assert (gate.held, gate.arrived) == (0, 3)  # every job passed it, none waited after
    assert "released" in repr(gate)


def test_waiting_for_a_job_that_never_comes_times_out() -> None:
    gate = JobGate()
    with pytest.raises(TimeoutError, match="0 of 1 job"):
        gate.wait_until_held(timeout=0.01)
    assert repr(gate) == "JobGate(holding 0, 0 arrived)"


async def test_until_held_times_out_and_wakes_on_arrival(tmp_path: Path) -> None:
    gate = JobGate()
    with pytest.raises(TimeoutError, match="0 of 2 job"):
        await gate.until_held(count=2, timeout=0.01)
    config = LocalServerConfig(job_duration=0, temp_dir_root=tmp_path, job_gate=gate)
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        await gate.until_held()
        assert gate.held == 1
        gate.release()
        done = await client.wait_for_job(job.job_id, poll_interval=POLL, timeout=10, verbose=False)
        assert done.status == JobStatus.COMPLETED
        assert gate.held == 0


async def test_release_from_another_thread_wakes_the_server_loop(tmp_path: Path) -> None:
    gate = JobGate()
    config = LocalServerConfig(job_duration=0, temp_dir_root=tmp_path, job_gate=gate)
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        await gate.until_held()
        releaser = threading.Thread(target=gate.release)
        releaser.start()
        releaser.join()
        done = await client.wait_for_job(job.job_id, poll_interval=POLL, timeout=10, verbose=False)
        assert done.status == JobStatus.COMPLETED


def test_job_gate_must_be_a_gate() -> None:
    with pytest.raises(TypeError, match="job_gate must be a JobGate"):
        LocalServerConfig(job_gate=asyncio.Event())  # type: ignore[arg-type]
