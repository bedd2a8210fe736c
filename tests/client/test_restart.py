"""The server goes away in the middle of wait_for_job, both clients.

The wait is sequenced through its own sleeps (the Sleeper's hook runs after each poll), so
the faults land exactly between two polls: no timing guesses.

- The server is stopped and a new one started on the same port: the new one lost its
  in-memory queue, so the wait ends with JobNotFoundError naming both causes.
- The server is unreachable for a while (a proxy in front of it refuses connections), then
  reachable again with the job still there: the wait completes.
- The job was evicted (max_completed_jobs): JobNotFoundError too.

A LocalServer started on port 0 can be restarted on the port it got (the last test).
(test_real_server.py SIGKILLs the real server in the middle of a wait.)
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import httpx
import pytest

from lmms_eval_client import JobNotFoundError
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import HOST, job_count, proxy, start_local_server
from ..support import QWEN, MakeClient, NetCaller


def setbacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and "poll failed" in r.msg]


async def test_restarted_server_lost_the_job(
    make_client: MakeClient,
    server_config: LocalServerConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lmms_eval_client")
    first = start_local_server(server_config)
    servers = [first]
    try:
        caller: NetCaller = make_client(first.url)
        job = await caller.evaluate("qwen2_vl", ["mme"], model_args={**QWEN, "sim_duration": 60})

        def between_polls(delay: float) -> None:
            if len(servers) == 1 and first.running:
                first.stop()  # killed in the middle of the wait, its job with it
            elif len(servers) == 1 and setbacks(caplog):
                servers.append(start_local_server(server_config, port=first.port))

        caller.sleeper.hook = between_polls
        caller.sleeper.cap = 0.005
        with pytest.raises(JobNotFoundError) as info:
            await caller.wait_for_job(job.job_id, poll_interval=0.05, timeout=30, verbose=False)
        restarted = servers[-1]
        assert len(servers) == 2
        assert restarted.url == first.url
        assert job_count(restarted.url) == 0
    finally:
        for server in servers:
            server.stop()
    exc = info.value
    assert exc.job_id == job.job_id
    message = str(exc)
    assert job.job_id in message
    assert "max_completed_jobs" in message and "evicted" in message  # cause 1
    assert "restarts" in message  # cause 2
    # the outage was ridden out: retries (INFO), then a setback of the wait (WARNING)
    assert len(setbacks(caplog)) == 1
    assert job.job_id in setbacks(caplog)[0].getMessage()
    assert "retry 1 of 2" in caplog.text and "retry 2 of 2" in caplog.text


@pytest.mark.slow
async def test_outage_then_the_same_server_again_completes(
    make_client: MakeClient,
    local_server: LocalServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lmms_eval_client")
    with proxy(local_server.url) as p:
        caller: NetCaller = make_client(p.url)
        job = await caller.evaluate("qwen2_vl", ["mme"], model_args={**QWEN, "sim_duration": 1.0})
        phases: list[str] = []

        def between_polls(delay: float) -> None:
            if not phases:
                p.down()  # refuses connections from now on
                phases.append("down")
            elif phases == ["down"] and setbacks(caplog):
                p.up()  # the same server, its job still there
                phases.append("up")

        caller.sleeper.hook = between_polls
        done = await caller.wait_for_job(job.job_id, poll_interval=0.02, timeout=30, verbose=False)
    assert phases == ["down", "up"]
    assert done.status == "completed"
    assert done.result
    assert len(setbacks(caplog)) >= 1
    assert all(job.job_id in r.getMessage() for r in setbacks(caplog))
    assert job_count(local_server.url) == 1


async def test_evicted_job_ends_the_wait_with_job_not_found(
    make_client: MakeClient, tmp_path: Path
) -> None:
    """The other way a server loses a job: finished jobs beyond max_completed_jobs."""
    config = LocalServerConfig(job_duration=0.0, max_completed_jobs=1, temp_dir_root=tmp_path)
    server = start_local_server(config)
    try:
        caller = make_client(server.url)
        first = await caller.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
        second = await caller.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
        await caller.wait_for_job(second.job_id, poll_interval=0.01, timeout=30, verbose=False)
        with pytest.raises(JobNotFoundError) as info:
            await caller.wait_for_job(first.job_id, poll_interval=0.01, timeout=30, verbose=False)
        assert job_count(server.url) == 1
    finally:
        server.stop()
    assert info.value.job_id == first.job_id
    assert "evicted beyond its max_completed_jobs" in str(info.value)
    assert "lost when the server restarts" in str(info.value)


def test_local_server_on_port_0_can_be_restarted_on_its_port() -> None:
    server = LocalServer(LocalServerConfig()).start()
    port = server.port
    again = LocalServer(LocalServerConfig(), port=port)
    try:
        # a client's idle keep-alive connection, as an EvalClient's pool keeps one
        with socket.create_connection((HOST, port)) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
            server.stop()
            again.start()
            assert httpx.get(f"{again.url}/health").status_code == 200
    finally:
        server.stop()
        again.stop()
