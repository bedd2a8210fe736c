"""The local lmms-eval-compatible server, run as its CLI in a separate process.

A separate process, so that the server's CPU work does not share the client's GIL; it
is started and stopped by PID. Its temporary job directories go to a directory of the
benchmark (TMPDIR), removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``python -m lmms_eval_client.testing`` on a free loopback port, until stopped.

    Args:
        name: Names its working directory and log file.
        workdir: Where its TMPDIR and log go.
        job_duration: Seconds a job runs unless its model_args say ``sim_duration``.
        max_completed_jobs: Finished jobs the server keeps.
        cpu: The CPU to pin the server to (None: not pinned).
    """

    def __init__(
        self,
        name: str,
        workdir: Path,
        *,
        job_duration: float,
        max_completed_jobs: int = 100,
        cpu: int | None = None,
    ) -> None:
        self.name = name
        self.dir = workdir / name
        self.job_duration = job_duration
        self.max_completed_jobs = max_completed_jobs
        self.cpu = cpu
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError(f"server {self.name} is not running")
        return self._proc.pid

    def start(self) -> ServerProcess:
        tmp = self.dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TMPDIR": str(tmp)}
        for _ in range(3):  # another process may take the free port before the server binds it
            self.port = free_port()
            command = [
                sys.executable,
                "-m",
                "lmms_eval_client.testing",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--job-duration",
                str(self.job_duration),
                "--max-completed-jobs",
                str(self.max_completed_jobs),
                "--log-level",
                "warning",
            ]
            with open(self.dir / "server.log", "ab") as log:
                self._proc = subprocess.Popen(command, env=env, stdout=log, stderr=log)
            if self.cpu is not None:
                os.sched_setaffinity(self._proc.pid, {self.cpu})
            if self._wait_ready():
                return self
            self.stop()
        log_text = (self.dir / "server.log").read_text(errors="replace")
        raise RuntimeError(f"server {self.name} did not start; its log:\n{log_text[-2000:]}")

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with httpx.Client(base_url=self.url, timeout=2.0) as probe:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    return False
                try:
                    if probe.get("/health").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """SIGTERM by PID (uvicorn shuts down gracefully), SIGKILL if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def established_peers(port: int) -> set[str] | None:
    """The peers of the server's ESTABLISHED TCP connections on a loopback port (Linux).

    A set, because /proc/net/tcp is read in chunks and may list a socket twice when others
    close meanwhile. None where /proc/net/tcp does not exist.
    """
    try:
        with open("/proc/net/tcp", encoding="ascii") as table:
            lines = table.readlines()[1:]
    except OSError:
        return None
    suffix = f":{port:04X}"
    peers = set()
    for line in lines:
        fields = line.split(None, 4)
        # fields: sl, local_address, rem_address, st, ...; state 01 is ESTABLISHED
        if fields[1].endswith(suffix) and fields[3] == "01":
            peers.add(fields[2])
    return peers
