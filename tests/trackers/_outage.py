"""A TCP forwarder in front of a real server, that a test takes down and brings back on the
same port: the tracker is down for the client, then up again, the server never touched."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from ..servers import HOST, hold_port


class Outage:
    def __init__(self, target_port: int) -> None:
        self.target = (HOST, target_port)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._held: socket.socket | None = None  # the port while down (hold_port)
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def up(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept, listener)

    def down(self) -> None:
        """Refuse new connections and cut the open ones; the port stays held (``hold_port``)
        until ``up()``, so a parallel test's server does not get it."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes accept() up
            listener.close()
            self._held = hold_port(self.port)
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(10)
        with self._lock:
            for sock in self._open:
                sock.close()
            self._open.clear()

    def stop(self) -> None:
        """Down for good: the port is released."""
        self.down()
        if self._held is not None:
            self._held.close()
            self._held = None

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # taken down
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, server))
            self._spawn(self._pump, client, server)
            self._spawn(self._pump, server, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def outage_in_front_of(target_port: int) -> Iterator[Outage]:
    proxy = Outage(target_port)
    try:
        yield proxy
    finally:
        proxy.stop()
