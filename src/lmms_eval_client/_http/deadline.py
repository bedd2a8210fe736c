"""Sync requests within their deadline: httpcore's network backend, wrapped.

Every socket operation of the client's own connection pool is given only the time left
of the request it serves (``transport._IO_DEADLINE``, set around each send: httpcore
passes the backend nothing that identifies the request). Its own module so that httpcore
is imported when a client is built, not when the SDK is imported.
"""

from __future__ import annotations

import time
from typing import Any

import httpcore
import httpx

from .transport import _IO_DEADLINE


def _time_left(timeout: float | None, exc: type[httpcore.TimeoutException]) -> float | None:
    deadline = _IO_DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise exc("the request's time budget ran out")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes end by the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, with streams that respect the request's deadline."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _wrap_backend(transport: object) -> bool:
    if not isinstance(transport, httpx.HTTPTransport):
        return False
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.NetworkBackend):
        return False
    if not isinstance(backend, _DeadlineBackend):
        setattr(pool, "_network_backend", _DeadlineBackend(backend))  # noqa: B010
    return True


def install_deadline_backend(client: httpx.Client) -> bool:
    """Make the connection pools of our own httpx.Client respect each request's deadline.

    httpx does not expose httpcore's ``network_backend``, so this reaches into the pools
    httpx built (the default transport and any proxy mounts). True when the default
    transport got it; else (a future httpx) only the between-chunk checks remain, and a
    test says so.
    """
    main = getattr(client, "_transport", None)
    mounts = list(getattr(client, "_mounts", {}).values())
    wrapped = [_wrap_backend(transport) for transport in (main, *mounts)]
    return wrapped[0]
