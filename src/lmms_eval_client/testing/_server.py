"""LocalServer: the app served by uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI
from typing_extensions import Self

from ._app import create_app
from ._config import LocalServerConfig, check_duration

DEFAULT_HOST = "127.0.0.1"


class LocalServer:
    """An lmms-eval-compatible server on ``host:port``, served from a background thread.

    Starts in a few milliseconds; every instance has its own jobs and queue. Use it as a
    context manager, or call ``start()`` and ``stop()``::

        with LocalServer(LocalServerConfig(job_duration=0.1)) as server:
            with EvalClient(server.url) as client:
                job = client.evaluate(model="qwen2_vl", tasks=["mme"],
                                      model_args={"pretrained": "Qwen/Qwen2-VL-2B-Instruct"})
                done = client.wait_for_job(job.job_id, poll_interval=0.05)

    Args:
        config: The server's behaviour (ignored when ``app`` is given).
        host: The address to listen on; loopback by default.
        port: The port; 0 (default) picks a free one, bound before the server starts.
        app: An app to serve instead of a new ``create_app(config)``.
        startup_timeout: Seconds ``start()`` waits for the server to accept connections.
    """

    def __init__(
        self,
        config: LocalServerConfig | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        app: FastAPI | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        if not isinstance(host, str) or not host or host.startswith("["):
            # ("" would listen on every interface; "[::1]" is a URL's spelling of ::1)
            raise ValueError(
                f"host must be an address to listen on (an IPv6 one without brackets), got {host!r}"
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in 0..65535 (0: a free one), got {port!r}")
        if check_duration("startup_timeout", startup_timeout) == 0:
            raise ValueError("startup_timeout must be more than 0 seconds, got 0")
        self.app: FastAPI = app if app is not None else create_app(config)
        self.host = host
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._lifecycle = threading.RLock()  # start() and stop() one at a time

    # -- addresses ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (known once started)."""
        if self._port is None:
            raise RuntimeError("the LocalServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"{type(self).__name__}({where})"

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        """Bind, serve in a background thread, and return once connections are accepted.

        Raises:
            RuntimeError: Already started, or the server did not come up in time.
            OSError: The address could not be bound.
        """
        with self._lifecycle:  # (two threads at once: both started, one server leaked)
            return self._start()

    def _start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the LocalServer is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto
        # says TCP; without it every response waits ~40 ms on Nagle and delayed ACKs.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            if os.name != "nt":
                # As uvicorn does: a restart on the same port must not wait for TIME_WAIT.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the host program's logging alone
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=_serve,
            args=(server, sock),
            name=f"lmms-eval-local-server:{self._port}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not server.started:
            if not thread.is_alive():
                self._cleanup()
                reason = getattr(self.app.state, "startup_error", None)
                raise RuntimeError(f"the LocalServer failed to start: {reason or 'see the log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the LocalServer did not start within {self._startup_timeout} s"
                )
            time.sleep(0.001)
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        """Shut the server down (its lifespan stops the worker) and join its thread.

        Idempotent. Jobs still running are abandoned, as when the real server stops.

        Raises:
            RuntimeError: The server's thread did not end within twice ``timeout`` (a
                job's results still being written): it is still running, and a later
                ``stop()`` waits for it again.
        """
        if timeout is not None:  # (None: no limit)
            check_duration("timeout", timeout)
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is not None and thread is not None:
                server.should_exit = True
                thread.join(timeout)
                if thread.is_alive():
                    server.force_exit = True
                    thread.join(timeout)
                if thread.is_alive():  # its socket stays open: closed under it, it crashed
                    assert timeout is not None  # (else joined until it ended)
                    raise RuntimeError(
                        f"the LocalServer's thread did not stop within {2 * timeout:g} s (a "
                        "job's results still being written?): call stop() again"
                    )
            self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    """The server thread: uvicorn exits with SystemExit when the app's startup fails (logged;
    ``start()`` says so): not an exception of the thread's."""
    with contextlib.suppress(SystemExit):
        server.run(sockets=[sock])
