"""EvalCallback inside a real ``transformers.Trainer`` (a tiny random GPT-2 on CPU), against
a LocalServer: each saved checkpoint submitted once, its metrics logged through the
trainer's logs; with ``RANK=1`` nothing is submitted.

The Trainer needs torch and transformers: it runs in a subprocess with the real-completion
lane's environment (``LMMS_EVAL_CLIENT_REAL_ENV``, ``make test-real``) and our ``src`` on
PYTHONPATH; the server runs here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..watch.conftest import server_job_count
from ._lane import lane_env, requires_lane

pytestmark = [pytest.mark.real_completion, requires_lane]

SCRIPT = Path(__file__).with_name("trainer_script.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    return LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)


def start(url: str, folder: Path, **env: str) -> subprocess.Popen[str]:
    python = lane_env() / "bin" / "python"
    environ = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'generated'}",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **env,
    }
    return subprocess.Popen(
        [str(python), str(SCRIPT), url, str(folder / "evals.sqlite"), str(folder / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ,
    )  # fmt: skip


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-4000:]
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def train(url: str, folder: Path) -> dict[str, Any]:
    return finish(start(url, folder))


def test_the_trainer_submits_each_checkpoint_once_and_logs_its_metrics(
    local_server: LocalServer, tmp_path: Path
) -> None:
    result = train(local_server.url, tmp_path)
    expected = ["checkpoint-2", "checkpoint-4", "checkpoint-6"]
    assert result["submitted"] == expected
    assert sorted(entry["eval/checkpoint_step"] for entry in result["evals"]) == [2.0, 4.0, 6.0]
    assert all(any(name.startswith("eval/mme/") for name in entry) for entry in result["evals"])
    assert server_job_count(local_server.url) == 3
    with EvalClient(local_server.url) as client, EvalRun(client, tmp_path / "evals.sqlite") as run:
        assert [job.key for job in run.jobs()] == expected
        assert all(job.state == "completed" and job.harvested for job in run.jobs())
        assert [job.labels["step"] for job in run.jobs()] == [2, 4, 6]

    again = train(local_server.url, tmp_path)  # the same training run again: nothing sent
    assert again["submitted"] == expected
    assert server_job_count(local_server.url) == 3


def test_two_ranks_one_submits(local_server: LocalServer, tmp_path: Path) -> None:
    """A distributed training of two CPU processes (gloo), as torchrun starts them: rank 1
    submits nothing, rank 0 each checkpoint once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    ranks = [
        start(local_server.url, tmp_path, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
              LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        for rank in (0, 1)
    ]  # fmt: skip
    zero, one = (finish(process) for process in ranks)
    assert one == {"submitted": [], "evals": []}
    assert zero["submitted"] == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]
    assert server_job_count(local_server.url) == 3


def test_rank_1_in_the_environment_submits_nothing(
    local_server: LocalServer, tmp_path: Path
) -> None:
    """A process whose launcher says RANK=1, whatever the trainer's state says."""
    result = finish(start(local_server.url, tmp_path, RANK="1"))
    assert result == {"submitted": [], "evals": []}
    assert server_job_count(local_server.url) == 0
