"""Fixtures of the command-line tests: the real console script, and local servers for it.

``cli(*args)`` runs the installed ``lmms-eval-client`` script (the one pip wrote into the
venv's bin folder from pyproject's ``[project.scripts]``) as a subprocess, with only our
environment variables set; ``server`` is a local lmms-eval-compatible server on a free
loopback port whose jobs wait at a ``JobGate`` when the test asks for ``gated_server``.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from lmms_eval_client.testing import JobGate, LocalServer, LocalServerConfig

from ..trackers._mlflow import MlflowServer, alive

BIN = Path(sys.executable).parent
SCRIPT = BIN / "lmms-eval-client"
QWEN_ARGS = "pretrained=Qwen/Qwen2-VL-2B-Instruct"
FAST = 0.1  # seconds a simulated job runs
POLL = "0.05"  # --poll-interval in these tests


def cli_env(url: str | None, output_root: Path | None = None) -> dict[str, str]:
    """The environment of a CLI run: the caller's minus every LMMS_EVAL_* setting, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMMS_EVAL_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if url is not None:
        env["LMMS_EVAL_BASE_URL"] = url
    if output_root is not None:
        env["LMMS_EVAL_OUTPUT_ROOT"] = str(output_root)
    return env


@dataclass
class Cli:
    """Runs the console script against one server."""

    url: str | None
    output_root: Path | None

    def env(self) -> dict[str, str]:
        return cli_env(self.url, self.output_root)

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            stdin=subprocess.DEVNULL,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start the script without waiting for it (stdout and stderr piped)."""
        return subprocess.Popen(
            [str(SCRIPT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env(),
        )


def read_until(stream: IO[str], text: str, timeout: float = 30) -> str:
    """Read lines from a child's pipe until one contains ``text``; everything read so far."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = stream.readline()
            if not line:
                break
            seen.append(line)
            if text in line:
                return "".join(seen)
    raise AssertionError(f"{text!r} never came; read: {''.join(seen)!r}")


@pytest.fixture
def output_root(tmp_path: Path) -> Path:
    root = tmp_path / "evals"
    root.mkdir()
    return root


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    """A local server whose jobs run FAST seconds."""
    config = LocalServerConfig(job_duration=FAST, temp_dir_root=tmp_path)
    with LocalServer(config) as running:
        yield running


@pytest.fixture
def gate() -> Iterator[JobGate]:
    held = JobGate()
    yield held
    held.release()  # never leave a server thread waiting


@pytest.fixture
def gated_server(tmp_path: Path, gate: JobGate) -> Iterator[LocalServer]:
    """A local server whose jobs stay running at ``gate`` until ``gate.release()``."""
    config = LocalServerConfig(job_duration=FAST, temp_dir_root=tmp_path, job_gate=gate)
    with LocalServer(config) as running:
        yield running
        gate.release()


@pytest.fixture
def cli(server: LocalServer, output_root: Path) -> Cli:
    return Cli(server.url, output_root)


@pytest.fixture
def gated_cli(gated_server: LocalServer, output_root: Path) -> Cli:
    return Cli(gated_server.url, output_root)


@pytest.fixture(scope="module")
def mlflow_server(shared_mlflow_server: MlflowServer) -> MlflowServer:
    """The run's `mlflow server`, shared with tests/trackers (runs of their own names)."""
    return alive(shared_mlflow_server)
