"""The pytest plugin, opted in as users do, in a separate pytest run (strict asyncio mode)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = """
pytest_plugins = ["lmms_eval_client.testing.pytest_plugin"]
"""

TESTS = """
import threading

import pytest

from lmms_eval_client import EvalClient, JobStatus
from lmms_eval_client.testing import LocalServerConfig

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
SEEN = []


@pytest.fixture
def lmms_eval_server_config(tmp_path):
    return LocalServerConfig(job_duration=0.01, temp_dir_root=tmp_path, tasks=["only_task"])


def test_sync(lmms_eval_server, lmms_eval_client):
    assert isinstance(lmms_eval_client, EvalClient)
    assert lmms_eval_client.base_url == lmms_eval_server.url
    assert lmms_eval_client.list_tasks() == ["only_task"]
    job = lmms_eval_client.evaluate(model="qwen2_vl", tasks=["only_task"], model_args=QWEN)
    done = lmms_eval_client.wait_for_job(job.job_id, poll_interval=0.005, verbose=False)
    assert done.status == JobStatus.COMPLETED
    SEEN.append(job.job_id)


def test_fresh_server_per_test(lmms_eval_client):
    assert lmms_eval_client.get_queue_status().completed_jobs == 0
    assert SEEN


@pytest.mark.asyncio
async def test_async(async_lmms_eval_client):
    job = await async_lmms_eval_client.evaluate(
        model="qwen2_vl", tasks=["only_task"], model_args=QWEN
    )
    done = await async_lmms_eval_client.wait_for_job(job.job_id, poll_interval=0.005, verbose=False)
    assert done.status == JobStatus.COMPLETED


def test_no_server_thread_left():
    assert not [t for t in threading.enumerate() if t.name.startswith("lmms-eval-local")]
"""


@pytest.mark.slow
def test_plugin_opt_in(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_user.py").write_text(TESTS, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout
