"""Fixtures of the local-server tests: the pytest plugin's, and in-process clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lmms_eval_client import AsyncEvalClient
from lmms_eval_client.testing import JobGate, LocalServerConfig, asgi_client

FAST = 0.05  # seconds a simulated job runs in these tests
POLL = 0.005  # wait_for_job's poll interval in these tests

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
QWEN_FOLDER = "Qwen__Qwen2-VL-2B-Instruct"


@pytest.fixture
def config(tmp_path: Path) -> LocalServerConfig:
    """Fast jobs whose temporary output dirs live in the test's tmp_path."""
    return LocalServerConfig(job_duration=FAST, temp_dir_root=tmp_path)


@pytest.fixture
async def http(config: LocalServerConfig) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient talking in process (ASGITransport) to a fresh local server."""
    async with asgi_client(config) as http_client:
        yield http_client


@pytest.fixture
async def client(http: httpx.AsyncClient) -> AsyncIterator[AsyncEvalClient]:
    """The async facade over ``http``."""
    async with AsyncEvalClient(http_client=http) as facade:
        yield facade


@pytest.fixture
def gate() -> JobGate:
    """A gate that holds every job of ``held_client``'s server until released."""
    return JobGate()


@pytest.fixture
async def held_client(tmp_path: Path, gate: JobGate) -> AsyncIterator[AsyncEvalClient]:
    """The async facade over a fresh in-process server whose jobs wait at ``gate``."""
    config = LocalServerConfig(job_duration=FAST, temp_dir_root=tmp_path, job_gate=gate)
    async with asgi_client(config) as http_client, AsyncEvalClient(http_client=http_client) as c:
        yield c
