"""Start the real lmms-eval 0.7.3 server on 127.0.0.1 for the contract and integration tests.

``real_server()`` runs ``python -m lmms_eval.launch_server`` as a subprocess on a free
loopback port (given ``max_completed_jobs``, lmms-eval's own
``launch_server(ServerArgs(...))`` instead: its command line has no option for that), waits
until ``GET /health`` answers, and stops the process it started (by
its PID: terminate, then kill) when the ``with`` block ends. The server's output goes to a
log file (never a pipe that could fill), quoted in full when the server fails to start.

Each server gets its own scratch directory, used as its ``TMPDIR``: the output folders the
server creates for jobs (``lmms_eval_*``) land there and are removed with it.

Holding jobs. Without lmms-eval's ML stack, a job's ``python -m lmms_eval`` subprocess
fails about 30 ms after it starts, so "the second job stays queued while the first runs"
would be a race. With ``hold_jobs=True`` every evaluation subprocess the server starts is
held at a gate before it imports anything, so a job stays ``running`` (and the next one
``queued``) until the test calls ``server.release_jobs()``; then the held and all later
jobs run, and fail, as usual. The server itself is not touched: the gate is a
``sitecustomize`` module on the ``PYTHONPATH`` of the server's environment, which the
server passes on to its subprocesses, and which acts only in ``python -m lmms_eval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import psutil

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60.0  # seconds for the server to answer GET /health
STOP_TIMEOUT = 10.0  # seconds for it to exit after SIGTERM (then SIGKILL)
PORT_ATTEMPTS = 3  # a free port can be taken between picking and binding it
GATE_ENV = "LMMS_EVAL_CLIENT_TESTS_JOB_GATE"
GATE_MAX_HOLD = 120.0  # a held job goes on by itself after this long, whatever happens

T = TypeVar("T")


def loopback_http(base_url: str = "", timeout: float = 10.0) -> httpx.Client:
    """A raw httpx client for a test's own server on 127.0.0.1, over plain HTTP: without the
    environment's proxies, and without the TLS context httpx would build for it (~50 ms of
    CA loading per client, for a connection that never uses TLS)."""
    return httpx.Client(base_url=base_url, timeout=timeout, trust_env=False, verify=False)


# Imported by every Python process started with the server's environment (the server and
# its job subprocesses); holds only `python -m lmms_eval`, until the gate's listening socket
# is closed (its pending connection is then reset) or GATE_MAX_HOLD passes.
_SITECUSTOMIZE = f'''\
"""Written by tests/servers.py: hold a job's `python -m lmms_eval` at the test's gate."""

import os
import socket
import sys


def _hold_at_gate():
    gate = os.environ.get({GATE_ENV!r})
    argv = list(getattr(sys, "orig_argv", []))
    if not gate or "-m" not in argv or argv[argv.index("-m") + 1 :][:1] != ["lmms_eval"]:
        return
    host, _, port = gate.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout={GATE_MAX_HOLD!r}) as conn:
            conn.recv(1)
    except OSError:
        pass  # released: reset or refused (or held too long)


_hold_at_gate()
'''


class ServerStartError(RuntimeError):
    """The real server did not come up; the message ends with its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (a server of a parallel test may
    take it: for an address that must refuse, use ``refused_url``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, exited but not reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` (our child or not: pg_ctl's, a spawned server's) has exited;
    whether it did in time."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): look again and again
        deadline = time.monotonic() + timeout
        while is_running(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        return not is_running(pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)  # readable once the process has exited
        return bool(poller.poll(timeout * 1000)) or not is_running(pid)
    finally:
        os.close(pidfd)


def serves_port(process: subprocess.Popen[bytes] | int, port: int) -> bool:
    """Whether ``process`` or a process under it listens on ``port``. An answer on the port
    alone does not say so: a parallel test's server may take the port between ``free_port()``
    and this process's bind, and answer there until this one exits (address in use)."""
    try:
        root = psutil.Process(process if isinstance(process, int) else process.pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            for conn in member.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
                    return True
    return False


def hold_port(port: int) -> socket.socket:
    """A socket bound to ``port`` (0: any) on 127.0.0.1 that never listens: connections to
    it are refused, and no port picked by a bind to 0 (``free_port``, a parallel test's
    server) is this one, until it is closed. SO_REUSEADDR only when the port's closed
    connections (TIME_WAIT) need it; a server binding this port explicitly with it could
    then still take the port."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        try:
            held.bind((HOST, port))
        except OSError:
            held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            held.bind((HOST, port))
    except OSError:
        held.close()
        raise
    return held


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` that refuses connections for as long as the block lasts (a
    port held by ``hold_port``, which no server a parallel test starts can take)."""
    with hold_port(0) as sock:
        yield f"http://{HOST}:{sock.getsockname()[1]}"


@contextlib.contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[int]:
    """A test's own ``http.server`` (bound to 127.0.0.1:0) served from a thread for as long
    as the block lasts: its port; shut down, closed and its thread joined after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cast("tuple[str, int]", server.server_address)[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class JobGate:
    """A listening socket that held job subprocesses connect to; closing it lets them go."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = socket.create_server((HOST, 0), backlog=64)
        self.address = f"{HOST}:{self._sock.getsockname()[1]}"

    @property
    def holding(self) -> bool:
        return self._sock is not None

    def release(self) -> None:
        """Let every held job, and every later one, run (idempotent)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


@dataclass
class RealServer:
    """A running real server: ``url`` to talk to, ``log()`` to read what it printed."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path
    gate: JobGate | None

    @property
    def pid(self) -> int:
        return self.process.pid

    def release_jobs(self) -> None:
        """Let held jobs run (started with ``hold_jobs=True``); they then fail within ~0.1 s."""
        if self.gate is None:
            raise RuntimeError("this server was started without hold_jobs=True")
        self.gate.release()

    def log(self) -> str:
        """Everything the server has printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(server log unreadable: {exc})"


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop the process we started: SIGTERM, wait, then SIGKILL; then close our ends of its
    pipes (left open, they are an unclosed file when collected: warnings are errors here)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _server_env(
    workdir: Path, gate: JobGate | None, extra_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {**os.environ, **(extra_env or {})}
    env["TMPDIR"] = str(workdir)  # the job output folders land in the scratch directory
    env["PYTHONUNBUFFERED"] = "1"  # the log file is up to date when a test reads it
    env.pop(GATE_ENV, None)
    if gate is not None:
        site_dir = workdir / "gate-site"
        site_dir.mkdir()
        (site_dir / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site_dir), env.get("PYTHONPATH")]))
        env[GATE_ENV] = gate.address
    return env


def _wait_until_healthy(
    process: subprocess.Popen[bytes], port: int, log_path: Path, deadline: float
) -> None:
    """Return once ``process`` serves ``port`` and GET /health says healthy; raise
    ServerStartError (with the log) otherwise."""
    url = f"http://{HOST}:{port}"
    with loopback_http(timeout=2.0) as probe:
        while True:
            code = process.poll()
            if code is not None:
                log = log_path.read_text(errors="replace")
                raise ServerStartError(
                    f"the real server (pid {process.pid}) exited with code {code} "
                    f"before answering {url}/health; its log:\n{log}"
                )
            try:
                response = probe.get(f"{url}/health")
                healthy = response.status_code == 200 and response.json().get("status") == "healthy"
                if healthy and serves_port(process, port):
                    return
            except (httpx.TransportError, ValueError):
                pass
            if time.monotonic() >= deadline:
                log = log_path.read_text(errors="replace")
                raise ServerStartError(
                    f"the real server (pid {process.pid}) did not answer {url}/health "
                    f"within {STARTUP_TIMEOUT:g} s; its log:\n{log}"
                )
            time.sleep(0.05)


def server_command(
    port: int, max_completed_jobs: int | None = None, python: str | None = None
) -> list[str]:
    """The command that serves the real server on ``HOST:port`` (``python``: this one's).

    lmms-eval's command line (``python -m lmms_eval.launch_server``) has no option for
    ``max_completed_jobs``; its ``ServerArgs`` has, so a limit is set through them.
    """
    python = python or sys.executable
    if max_completed_jobs is None:
        return [
            python,
            "-m",
            "lmms_eval.launch_server",
            "--host",
            HOST,
            "--port",
            str(port),
        ]
    code = (
        "from lmms_eval.entrypoints.server_args import ServerArgs; "
        "from lmms_eval.entrypoints.http_server import launch_server; "
        f"launch_server(ServerArgs(host={HOST!r}, port={port}, "
        f"max_completed_jobs={max_completed_jobs!r}))"
    )
    return [python, "-c", code]


def _launch(
    workdir: Path,
    gate: JobGate | None,
    startup_timeout: float,
    max_completed_jobs: int | None,
    python: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> RealServer:
    env = _server_env(workdir, gate, extra_env)
    deadline = time.monotonic() + startup_timeout
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        url = f"http://{HOST}:{port}"
        log_path = workdir / f"server-{port}.log"
        with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                server_command(port, max_completed_jobs, python),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=workdir,
            )
        try:
            _wait_until_healthy(process, port, log_path, deadline)
        except ServerStartError:
            stop_process(process)
            taken = "address already in use" in log_path.read_text(errors="replace").lower()
            if taken and attempt < PORT_ATTEMPTS:
                continue
            raise
        except BaseException:
            stop_process(process)
            raise
        return RealServer(url=url, process=process, log_path=log_path, workdir=workdir, gate=gate)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def real_server(
    *,
    hold_jobs: bool = False,
    max_completed_jobs: int | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
    python: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[RealServer]:
    """Run a fresh real lmms-eval server on 127.0.0.1 for the duration of the block.

    Args:
        hold_jobs: Hold every job's evaluation subprocess (so the job stays ``running``)
            until ``server.release_jobs()``; see the module docstring.
        max_completed_jobs: Finished jobs the server keeps (its ``ServerArgs`` option);
            None: its default, 100.
        startup_timeout: Seconds to wait for ``GET /health``.
        python: The interpreter whose lmms-eval to serve (default: this one's); the
            real-completion lane passes its own environment's.
        extra_env: Variables set for the server (and so its jobs), over ``os.environ``.
    """
    if max_completed_jobs is not None and (
        isinstance(max_completed_jobs, bool)
        or not isinstance(max_completed_jobs, int)
        or max_completed_jobs < 1
    ):
        raise ValueError(f"max_completed_jobs must be an int >= 1, got {max_completed_jobs!r}")
    workdir = Path(tempfile.mkdtemp(prefix="lmms-eval-real-server-"))
    gate = JobGate() if hold_jobs else None
    try:
        server = _launch(workdir, gate, startup_timeout, max_completed_jobs, python, extra_env)
        try:
            yield server
        finally:
            if gate is not None:
                gate.release()  # a held job must not outlive the server
            stop_process(server.process)
    finally:
        if gate is not None:
            gate.release()
        shutil.rmtree(workdir, ignore_errors=True)


async def poll_until(
    fetch: Callable[[], T | Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 20.0,
    interval: float = 0.02,
    what: str = "the condition",
) -> T:
    """Bounded polling of the real server: ``fetch()`` until ``done(value)``; the last value.

    ``fetch`` may be sync or async. Fails the test (AssertionError) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value: Any = fetch()
        if inspect.isawaitable(value):
            value = await value
        if done(value):
            return cast(T, value)
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}; last: {value!r}"
            )
        await asyncio.sleep(interval)
