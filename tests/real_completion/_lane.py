"""What the real-completion lane's fixtures share: its environment, its task, its chat server.

The lane runs only when ``LMMS_EVAL_CLIENT_REAL_ENV`` names an environment built by
``real_lane/build_env.py`` (``make test-real`` sets it); otherwise its tests are skipped, so a
plain ``pytest -q`` / ``make test`` neither builds nor waits for anything.

The tests run here, in the project's ``.venv``; only the real server runs from the lane's
environment. The task (``lane_task/``) reaches the server's task index through small YAML
files written into that environment's ``lmms_eval/tasks/`` folder (``install_tasks``): lmms-eval
0.7.3 reads ``LMMS_EVAL_PLUGINS`` only after its index is built, and a task given as a path
gets no name, so a stub there, ``task: <name>`` + ``include: <our YAML>``, is what works.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..servers import HOST, stop_process

ENV_VAR = "LMMS_EVAL_CLIENT_REAL_ENV"
HERE = Path(__file__).resolve().parent
TASK_DIR = HERE / "lane_task"
STUB_FOLDER = "lmms_eval_client_lane"  # our folder inside lmms_eval/tasks/
CHAT_STARTUP_TIMEOUT = 30.0

# The task names and what the chat server scores on them (see lane_task/ and chat_server.py).
ARITH = "client_lane_arith"  # 4 of 5 right (it does not divide)
CAPITALS = "client_lane_capitals"  # 3 of 5 right (two countries it does not know)
SUITE = "client_lane_suite"  # the group of both
SUBTASKS = {ARITH: 0.8, CAPITALS: 0.6}
MODEL = "openai"  # lmms-eval's OpenAI-compatible chat backend
MODEL_NAME = "lane-model"  # model_args' model=: also the results folder's name
API_KEY = "sk-lane-not-a-secret"

requires_lane = pytest.mark.skipif(
    not os.environ.get(ENV_VAR),
    reason=f"the real-completion lane runs with `make test-real` (it sets {ENV_VAR})",
)


def lane_env() -> Path:
    """The lane's environment (a folder holding ``bin/python``), checked."""
    env = Path(os.environ[ENV_VAR]).expanduser()
    if not (env / "bin" / "python").exists():
        raise pytest.UsageError(
            f"{ENV_VAR}={env} holds no bin/python: build it with real_lane/build_env.py"
        )
    return env


def install_tasks(env: Path) -> Path:
    """Make the lane's tasks known to the server of ``env`` (idempotent); their folder there.

    Subtasks get a stub that includes our YAML (relative paths and ``!function utils.*``
    then resolve against ``lane_task/``); the group's YAML is copied whole, as lmms-eval
    reads a group's ``task:`` list from the file its index found.
    """
    found = sorted(env.glob("lib/python*/site-packages/lmms_eval/tasks"))
    if not found:
        raise pytest.UsageError(f"no lmms_eval/tasks folder in {env}: rebuild it")
    folder = found[0] / STUB_FOLDER
    folder.mkdir(exist_ok=True)
    wanted = {
        f"{name}.yaml": f"task: {name}\ninclude: {TASK_DIR / f'{name}.yaml'}\n" for name in SUBTASKS
    }
    wanted[f"{SUITE}.yaml"] = (TASK_DIR / f"{SUITE}.yaml").read_text()
    for stale in folder.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return folder


@dataclass
class ChatServer:
    """The running chat server (tests/real_completion/chat_server.py)."""

    url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def _post(self, path: str) -> None:
        httpx.post(f"{self.url}{path}", timeout=10, trust_env=False).raise_for_status()

    def hold(self) -> None:
        """Later chat requests wait until ``release()``: a job using them stays running."""
        self._post("/_hold")

    def release(self) -> None:
        """Answer the held chat requests, and every later one at once."""
        self._post("/_release")

    def stats(self) -> dict[str, Any]:
        """``{"requests": N, "held": N}``."""
        response = httpx.get(f"{self.url}/_stats", timeout=10, trust_env=False)
        return dict(response.raise_for_status().json())


def start_chat_server(log_path: Path) -> ChatServer:
    """Start the chat server on a port of the OS's choosing; it prints that port first."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "chat_server.py")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], CHAT_STARTUP_TIMEOUT)
    line = process.stdout.readline() if ready else b""
    if not line.strip().isdigit():
        stop_process(process)
        raise RuntimeError(
            f"the chat server (pid {process.pid}) printed no port; its log:\n"
            + log_path.read_text(errors="replace")
        )
    return ChatServer(url=f"http://{HOST}:{int(line)}", process=process)


def model_args(chat: ChatServer) -> dict[str, Any]:
    """model_args that point lmms-eval's ``openai`` backend at the chat server."""
    return {
        "model": MODEL_NAME,
        "base_url": f"{chat.url}/v1",
        "api_key": API_KEY,
        "max_retries": 2,
        "timeout": 60,
    }


def server_env(hf_home: Path) -> dict[str, str]:
    """The real server's extra environment: offline, a fresh HF_HOME, loopback unproxied."""
    return {
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def read_json(path: str | Path) -> Any:
    """A results file, parsed (EvalResults.load will do this once merged)."""
    return json.loads(Path(path).read_text())


def read_jsonl(path: str | Path) -> list[Any]:
    """A samples file: one JSON object per line."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
