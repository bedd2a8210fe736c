"""A real `mlflow server` on a free loopback port (SQLite store), stopped by its PID."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..servers import HOST, free_port, loopback_http, serves_port, stop_process

MLFLOW_STARTUP = 180.0  # seconds: it takes about a minute on a loaded 2-core machine


@dataclass(frozen=True)
class MlflowServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _start_mlflow(workdir: Path, port: int) -> MlflowServer:
    log = workdir / f"mlflow-{port}.log"
    env = {
        **os.environ,
        # no job runner (its huey consumers outlive a stopped server): a tracking store only
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "PYTHONUNBUFFERED": "1",
    }
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow), "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--default-artifact-root", str(workdir / "artifacts"),
        "--host", HOST, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("wb") as out:
        # its own process group: `mlflow server` runs uvicorn as a child
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + MLFLOW_STARTUP
    with loopback_http(timeout=2.0) as probe:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited early:\n{log.read_text()}")
            try:
                answered = probe.get(f"{url}/health").status_code == 200
                if answered and serves_port(process, port):
                    return MlflowServer(url, process, log)
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                stop_mlflow(process)
                raise RuntimeError(f"mlflow server did not answer:\n{log.read_text()}")
            time.sleep(0.5)  # polling a subprocess's port: there is no event to wait on


def alive(server: MlflowServer) -> MlflowServer:
    """``server``, after checking that it still runs: a shared server that died is said with
    the end of its log, not as a connection refused in whichever test comes next."""
    code = server.process.poll()
    if code is not None:
        tail = server.log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"the shared mlflow server exited ({code}); its log ends:\n{tail}")
    return server


def stop_mlflow(process: subprocess.Popen[bytes]) -> None:
    """Stop the server we started (its PID; it forwards SIGTERM to its uvicorn child), then
    anything left in its process group."""
    stop_process(process)
    with contextlib.suppress(ProcessLookupError):  # the group is gone: nothing left
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def mlflow_server(workdir: Path) -> Iterator[MlflowServer]:
    """An `mlflow server` storing in ``workdir``, for the ``with`` block."""
    server = _start_mlflow(workdir, free_port())
    try:
        yield server
    finally:
        stop_mlflow(server.process)
