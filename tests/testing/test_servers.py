"""LocalServer (uvicorn in a thread), the plugin's fixtures, and in-process lifespans."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from lmms_eval_client import AsyncEvalClient, EvalClient, JobFailedError, JobStatus
from lmms_eval_client.testing import (
    JobGate,
    LifespanError,
    LocalServer,
    LocalServerConfig,
    asgi_client,
    create_app,
    running_lifespan,
)
from lmms_eval_client.testing.pytest_plugin import TEST_JOB_DURATION

from .conftest import POLL, QWEN, QWEN_FOLDER


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lmms-eval-local-server")]


def test_local_server_serves_the_sync_client(config: LocalServerConfig) -> None:
    began = time.perf_counter()
    with LocalServer(config) as server:
        assert time.perf_counter() - began < 1.0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0
        assert server.running
        with EvalClient(server.url) as client:
            assert client.health().status == "healthy"
            job = client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
            done = client.wait_for_job(job.job_id, poll_interval=POLL, timeout=10, verbose=False)
            assert done.result is not None
            results = done.result[QWEN_FOLDER].results
            assert results is not None
            assert Path(results).is_file()
    assert not server.running
    assert server_threads() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health", timeout=1)


def test_stop_abandons_a_running_job_quickly(tmp_path: Path) -> None:
    gate = JobGate()  # never released: the job runs until the server stops
    server = LocalServer(LocalServerConfig(temp_dir_root=tmp_path, job_gate=gate)).start()
    try:
        with EvalClient(server.url) as client:
            job = client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
            gate.wait_until_held()
            assert client.get_job(job.job_id).status == JobStatus.RUNNING
    finally:
        began = time.perf_counter()
        server.stop()
        server.stop()  # idempotent
    assert time.perf_counter() - began < 2.0
    assert server_threads() == []


def test_listening_socket_is_tcp_so_responses_are_not_delayed(config: LocalServerConfig) -> None:
    # asyncio turns TCP_NODELAY on for accepted sockets only when the listening socket's
    # proto is IPPROTO_TCP; with proto 0 every response waited ~40 ms (Nagle + delayed ACK).
    # Latency itself is measured by the benchmarks, not asserted here.
    with LocalServer(config) as server:
        assert server._socket is not None
        assert server._socket.proto == socket.IPPROTO_TCP


def test_two_servers_are_independent(config: LocalServerConfig) -> None:
    with LocalServer(config) as one, LocalServer(config) as two:
        assert one.port != two.port
        with EvalClient(one.url) as client:
            job = client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        with EvalClient(two.url) as client:
            assert client.get_queue_status().completed_jobs == 0
            response = httpx.get(f"{two.url}/jobs/{job.job_id}")
            assert response.status_code == 404


def test_start_twice_and_url_before_start() -> None:
    server = LocalServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    with server, pytest.raises(RuntimeError, match="already started"):
        server.start()


# -- the pytest plugin's fixtures ------------------------------------------------------


def test_plugin_fixtures(lmms_eval_server: LocalServer, lmms_eval_client: EvalClient) -> None:
    assert lmms_eval_client.base_url == lmms_eval_server.url
    job = lmms_eval_client.evaluate(
        model="qwen2_vl", tasks=["mme"], model_args={**QWEN, "sim_outcome": "fail"}
    )
    with pytest.raises(JobFailedError):
        lmms_eval_client.wait_for_job(job.job_id, poll_interval=POLL, timeout=10, verbose=False)


def test_plugin_config_keeps_temporary_dirs_in_tmp_path(
    lmms_eval_server_config: LocalServerConfig, lmms_eval_client: EvalClient, tmp_path: Path
) -> None:
    assert lmms_eval_server_config.job_duration == TEST_JOB_DURATION
    job = lmms_eval_client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
    done = lmms_eval_client.wait_for_job(job.job_id, poll_interval=POLL, timeout=10, verbose=False)
    assert done.result is not None
    results = done.result[QWEN_FOLDER].results
    assert results is not None
    assert Path(results).is_relative_to(tmp_path)


async def test_async_plugin_fixture(async_lmms_eval_client: AsyncEvalClient) -> None:
    job = await async_lmms_eval_client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
    done = await async_lmms_eval_client.wait_for_job(
        job.job_id, poll_interval=POLL, timeout=10, verbose=False
    )
    assert done.status == JobStatus.COMPLETED


# -- in process ------------------------------------------------------------------------


async def test_asgi_client_shutdown_stops_a_running_job(tmp_path: Path) -> None:
    gate = JobGate()  # never released: the job runs until the lifespan ends
    config = LocalServerConfig(temp_dir_root=tmp_path, job_gate=gate)
    tasks_before = asyncio.all_tasks()
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        await gate.until_held()
        assert (await client.get_job(job.job_id)).status == JobStatus.RUNNING
    assert asyncio.all_tasks() == tasks_before  # the worker is gone
    assert gate.held == 0  # its wait at the gate was cancelled with it


async def test_asgi_client_over_a_given_app(config: LocalServerConfig) -> None:
    app = create_app(config)
    async with asgi_client(app=app, base_url="http://example") as http:
        assert str(http.base_url) == "http://example"
        assert (await http.get("/health")).json()["queue_size"] == 0


async def test_app_without_its_lifespan_says_so() -> None:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        with pytest.raises(RuntimeError, match="lifespan is not running"):
            await http.get("/health")


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_completed_jobs"):
        LocalServerConfig(max_completed_jobs=0)
    with pytest.raises(ValueError, match="job_duration"):
        LocalServerConfig(job_duration=-1)
    with pytest.raises(ValueError, match="outcome"):
        LocalServerConfig(outcome="maybe")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tasks"):
        LocalServerConfig(tasks="mme")
    assert LocalServerConfig(tasks=["b", "a"]).tasks == ("b", "a")


async def test_running_lifespan_reports_a_failed_startup() -> None:
    @contextlib.asynccontextmanager
    async def broken(_: FastAPI) -> AsyncIterator[None]:
        raise OSError("no disk")
        yield

    with pytest.raises(LifespanError, match="no disk"):
        async with running_lifespan(FastAPI(lifespan=broken)):
            pass
