"""`python -m lmms_eval_client.testing` / `lmms-eval-local-server`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lmms_eval_client import EvalClient, JobStatus
from lmms_eval_client.testing.__main__ import build_parser, main

from ..servers import free_port, serves_port
from .conftest import POLL, QWEN

ROOT = Path(__file__).resolve().parents[2]


def serve(command: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start the server process, its output going to ``log``; wait until /health answers."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise AssertionError(f"the server exited with {process.returncode}:\n{output}")
        try:
            answered = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            if answered and serves_port(process, port):
                return process
        except httpx.TransportError:
            time.sleep(0.02)
    process.kill()
    process.wait()
    raise AssertionError("the server did not answer /health in time")


def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    """Stop the server by its PID, as a supervisor's SIGTERM would; check it shut down."""
    os.kill(process.pid, signal.SIGTERM)
    try:
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text(errors="replace")
    # uvicorn shuts down gracefully (lifespan included), then re-raises the signal
    assert "Application shutdown complete." in output
    assert code in (0, -signal.SIGTERM), output


@pytest.mark.slow
def test_module_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "lmms_eval_client.testing", "--job-duration", "0.05"]
    process = serve(command, port, log)
    try:
        with EvalClient(f"http://127.0.0.1:{port}") as client:
            assert client.health().status == "healthy"
            job = client.evaluate(
                model="qwen2_vl", tasks=["mme"], model_args=QWEN, output_dir=str(tmp_path)
            )
            done = client.wait_for_job(job.job_id, poll_interval=POLL, timeout=10, verbose=False)
            assert done.status == JobStatus.COMPLETED
    finally:
        stop(process, log)


@pytest.mark.slow
def test_console_script(tmp_path: Path) -> None:
    # The installed entry point itself: a missing or broken script must fail this test.
    script = shutil.which("lmms-eval-local-server", path=str(Path(sys.executable).parent))
    assert script is not None, (
        f"no lmms-eval-local-server script next to {sys.executable}: the entry point is "
        "not installed (reinstall the project: make install)"
    )
    log = tmp_path / "server.log"
    stop(serve([script], free_port(), log), log)


def test_console_script_is_declared() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    target = project["scripts"]["lmms-eval-local-server"]
    assert target == "lmms_eval_client.testing.__main__:main"


def test_options() -> None:
    args = build_parser().parse_args(
        [
            "--job-duration",
            "0.5",
            "--max-completed-jobs",
            "3",
            "--tasks",
            "a, b",
            "--outcome",
            "fail",
        ]
    )
    assert (args.job_duration, args.max_completed_jobs, args.tasks) == (0.5, 3, ["a", "b"])
    assert args.outcome == "fail"
    with pytest.raises(SystemExit) as exited:
        main(["--max-completed-jobs", "0"])
    assert exited.value.code == 2
