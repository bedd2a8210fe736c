"""Files a server can point the client at that are not what lmms-eval writes: a FIFO that
blocks whoever opens it, endless streams, and a listener that counts who connects."""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def fifo_watchdog(path: Path, seconds: float = 5.0) -> Iterator[list[bool]]:
    """A FIFO at ``path`` that nobody writes to; after ``seconds`` a watchdog opens it for
    writing, again and again, so that a reader stuck in ``open()`` gets EOF instead of
    hanging the test. The list it yields holds True once the watchdog had to do that."""
    os.mkfifo(path)
    fired: list[bool] = []
    stop = threading.Event()

    def watch() -> None:
        if stop.wait(seconds):
            return
        fired.append(True)
        while not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader right now
                time.sleep(0.02)
                continue
            os.close(fd)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield fired
    finally:
        stop.set()
        thread.join()


class EndlessBytes(io.RawIOBase):
    """``size`` bytes of ``fill`` (no newline), counting what was read."""

    def __init__(self, size: int, fill: bytes = b"[") -> None:
        self.left = size
        self.fill = fill
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = self.fill * n
        self.left -= n
        self.read_so_far += n
        return n


class StreamFS:
    """A filesystem whose every file is one :class:`EndlessBytes` stream."""

    def __init__(self, size: int) -> None:
        self.stream = EndlessBytes(size)

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        return io.BufferedReader(self.stream)

    def exists(self, path: str, **kwargs: Any) -> bool:
        return True

    def isdir(self, path: str) -> bool:
        return False

    def glob(self, path: str, **kwargs: Any) -> list[str]:
        return []


class Arrivals:
    """The connections a :func:`counting_listener` accepted, as ``host:port`` of the peer."""

    def __init__(self) -> None:
        self.peers: list[str] = []
        self.own: set[str] = set()  # the connections before_now made itself
        self.changed = threading.Condition()

    def add(self, peer: str) -> None:
        with self.changed:
            self.peers.append(peer)
            self.changed.notify_all()

    def before_now(self, port: int) -> list[str]:
        """Every connection made before this call, without sleeping on it: a last one is made
        here and, the listener accepting in arrival order, once it is seen so are the others."""
        with socket.create_connection(("127.0.0.1", port)) as last:
            mine = "{}:{}".format(*last.getsockname()[:2])
            self.own.add(mine)
            with self.changed:
                if not self.changed.wait_for(lambda: mine in self.peers, timeout=10):
                    raise AssertionError("the listener did not accept a connection in 10 s")
                return [peer for peer in self.peers if peer not in self.own]


@contextmanager
def counting_listener() -> Iterator[tuple[int, Arrivals]]:
    """A loopback port that records (and closes) every connection made to it."""
    arrivals = Arrivals()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except OSError:
                continue
            arrivals.add(f"{peer[0]}:{peer[1]}")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], arrivals
    finally:
        stop.set()
        thread.join()
        server.close()
