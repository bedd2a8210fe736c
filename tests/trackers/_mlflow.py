"""A real `mlflow server` on a free loopback port (SQLite store), stopped by its PID.

Starting one costs ~7 s of CPU (a minute on a loaded 2-core machine), so a test run starts
at most one (``shared_mlflow``): the first process of the run that needs it (an xdist worker,
or the only process) starts it under a lock and records it in the run's folder; the others
read the record; the run's main process stops it by its PID when the run ends
(``stop_shared_mlflow``). It is spawned, not a ``Popen``: a worker that exits before the run
ends leaves no ``Popen`` to warn that its process is still running.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from ..servers import HOST, free_port, is_running, loopback_http, serves_port, wait_gone

MLFLOW_STARTUP = 180.0  # seconds: it takes about a minute on a loaded 2-core machine
STOP_TIMEOUT = 30.0
_RECORD = "mlflow-shared.json"


@dataclass(frozen=True)
class MlflowServer:
    url: str
    pid: int
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
    # its own session (and so process group): `mlflow server` runs uvicorn as a child
    pid = os.posix_spawn(
        command[0],
        command,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    server = MlflowServer(f"http://{HOST}:{port}", pid, log)
    try:
        _wait_up(server, port)
    except BaseException:  # (Ctrl+C, a timeout's signal too: in its own session, it would stay)
        stop_mlflow(pid)
        raise
    return server


def _wait_up(server: MlflowServer, port: int) -> None:
    deadline = time.monotonic() + MLFLOW_STARTUP
    with loopback_http(timeout=2.0) as probe:
        while True:
            if not is_running(server.pid):
                raise RuntimeError(f"mlflow server exited early:\n{server.log.read_text()}")
            try:
                answered = probe.get(f"{server.url}/health").status_code == 200
                if answered and serves_port(server.pid, port):
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer:\n{server.log.read_text()}")
            time.sleep(0.5)  # polling a subprocess's port: there is no event to wait on


def alive(server: MlflowServer) -> MlflowServer:
    """``server``, after checking that it still runs: a shared server that died is said with
    the end of its log, not as a connection refused in whichever test comes next."""
    if not is_running(server.pid):
        tail = server.log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"the shared mlflow server exited; its log ends:\n{tail}")
    return server


def stop_mlflow(pid: int) -> None:
    """Stop the server by its PID (it forwards SIGTERM to its uvicorn child), then anything
    left in its process group; reap it if it is this process's child."""
    if is_running(pid) and not _is_mlflow(pid):
        return  # a process that took its PID since it exited (and maybe its group's id)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    wait_gone(pid, STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):  # the group is gone: nothing left
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # started by another process of the run
        os.waitpid(pid, 0)


def _is_mlflow(pid: int) -> bool:
    try:
        return any("mlflow" in part for part in psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def shared_mlflow(run_dir: Path) -> MlflowServer:
    """The run's `mlflow server` (``run_dir``: a folder every process of the run shares),
    started by the first process to ask for it."""
    record = run_dir / _RECORD
    with (run_dir / "mlflow-shared.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if record.exists():
            known = json.loads(record.read_text())
            return MlflowServer(known["url"], known["pid"], Path(known["log"]))
        workdir = run_dir / "mlflow-shared"
        workdir.mkdir(exist_ok=True)  # (a process before this one may have failed to start it)
        server = _start_mlflow(workdir, free_port())
        known = {"url": server.url, "pid": server.pid, "log": str(server.log)}
        record.write_text(json.dumps(known))
        return server


def stop_shared_mlflow(run_dir: Path) -> None:
    """Stop the run's server, if a process of the run started one."""
    record = run_dir / _RECORD
    if record.exists():
        stop_mlflow(json.loads(record.read_text())["pid"])
