"""Fault injection over real loopback sockets: an HTTP/1.1 proxy that misbehaves on cue.

:class:`FaultProxy` listens on 127.0.0.1 (a free port, or a given one) and serves each
request it reads according to a *rule*: forward it to an upstream server and relay the
answer, answer something canned (a 502 HTML page, a truncated body...), reset the
connection (SO_LINGER 0, so the peer sees an RST), stall (never answer), or forward the
request and then drop the answer (the server did the work, the client never hears of it).
Without an upstream it is a scriptable HTTP server. ``down()`` closes the listening socket
and every connection (the port then refuses connections), ``up()`` listens on the same
port again: a server restart as the client sees it.

Everything runs on one asyncio loop in a daemon thread; the control methods are
thread-safe and bounded. Every request read is recorded (``seen``), with the raw request
target exactly as it came off the wire.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from lmms_eval_client.testing import LocalServer, LocalServerConfig

from .servers import HOST, free_port, hold_port, loopback_http

CONTROL_TIMEOUT = 10.0  # seconds any control call may take
READ_LIMIT = 4 * 1024 * 1024  # longest request head accepted (10,000-character job ids fit)

T = TypeVar("T")

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


# ----------------------------------------------------------------------------------------
# What the proxy does with one request
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """Forward to the upstream and relay its answer."""

    name: str = "forward"


@dataclass(frozen=True)
class Respond:
    """Answer with these exact bytes, without forwarding; close afterwards if ``close``."""

    data: bytes
    close: bool = False
    name: str = "respond"


@dataclass(frozen=True)
class Reset:
    """Reset the connection (RST), without forwarding."""

    name: str = "reset"


@dataclass(frozen=True)
class Close:
    """Close the connection (FIN) without answering and without forwarding."""

    name: str = "close"


@dataclass(frozen=True)
class Stall:
    """Never answer (the connection stays open until the client or the proxy closes it)."""

    name: str = "stall"


@dataclass(frozen=True)
class ForwardThenDrop:
    """Forward, read the upstream's whole answer, then drop it: RST if ``reset``, else FIN."""

    reset: bool = True
    name: str = "forward-then-drop"


@dataclass(frozen=True)
class Drip:
    """Answer ``prefix`` at once, then ``data``, ``size`` bytes every ``interval`` seconds (a
    server that is alive, but slower than any per-read timeout notices); then close."""

    data: bytes
    interval: float = 1.0
    size: int = 1
    prefix: bytes = b""
    name: str = "drip"


Action = Forward | Respond | Reset | Close | Stall | ForwardThenDrop | Drip
FORWARD = Forward()


def http_response(
    status: int,
    body: bytes = b"",
    *,
    reason: str = "",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
) -> bytes:
    """The bytes of an HTTP/1.1 response (``content_length`` may lie, to truncate a body)."""
    lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Status')}"]
    all_headers = {
        "content-type": content_type,
        "content-length": str(len(body) if content_length is None else content_length),
        **(headers or {}),
    }
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def respond(status: int, body: bytes = b"", **kwargs: Any) -> Respond:
    """A canned answer, the connection kept open."""
    return Respond(http_response(status, body, **kwargs))


def html_502() -> Respond:
    """nginx's 502 page, as a proxy sends it while the server behind it is down."""
    return respond(502, NGINX_502, content_type="text/html")


@dataclass
class Seen:
    """A request the proxy read, and what it did with it."""

    method: str
    target: bytes  # the raw request target, exactly as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes
    action: str = ""
    idle: float | None = None  # seconds the connection was idle since the last answer on it

    @property
    def path(self) -> bytes:
        return self.target.split(b"?", 1)[0]


Rule = Callable[[Seen], Action]


class Script:
    """A rule: the given actions, in order, for the requests ``match`` selects; then ``then``.

    Requests that ``match`` rejects are forwarded.
    """

    def __init__(
        self,
        *steps: Action,
        then: Action = FORWARD,
        match: Callable[[Seen], bool] = lambda seen: True,
    ) -> None:
        self._steps = collections.deque(steps)
        self._then = then
        self._match = match

    def __call__(self, seen: Seen) -> Action:
        if not self._match(seen):
            return FORWARD
        return self._steps.popleft() if self._steps else self._then


def on(method: str, path_prefix: str = "/") -> Callable[[Seen], bool]:
    """A ``match`` for Script: this method, on a path starting with ``path_prefix``."""
    prefix = path_prefix.encode()
    return lambda seen: seen.method == method and seen.target.startswith(prefix)


# ----------------------------------------------------------------------------------------
# The proxy
# ----------------------------------------------------------------------------------------


class FaultProxy:
    """An HTTP/1.1 proxy (or, without ``upstream``, a server) on 127.0.0.1 that obeys ``rule``.

    Use as a context manager. ``url`` is its base URL; ``seen`` the requests read so far.
    """

    def __init__(self, upstream: str | None = None, rule: Rule | None = None) -> None:
        self.upstream = httpx.URL(upstream) if upstream is not None else None
        self.rule: Rule = rule or (lambda seen: FORWARD)
        self._seen: list[Seen] = []
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._held: socket.socket | None = None  # the port, bound and not listening, while down
        self._transports: set[asyncio.WriteTransport] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.connections = 0  # connections accepted, ever

    # -- control (any thread) ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def seen(self) -> list[Seen]:
        with self._changed:
            return list(self._seen)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self.up()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def up(self) -> None:
        """Listen (again) on the proxy's port."""
        self._call(self._listen())

    def down(self) -> None:
        """Stop listening and close every connection: the port now refuses connections. It
        stays held (``hold_port``) until ``up()``, so a parallel test's server does not get it."""
        self._call(self._shut(hold=True))

    def stop(self) -> None:
        """Shut down for good (idempotent)."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            self._call(self._shut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CONTROL_TIMEOUT)
        self._loop.close()

    def clear(self) -> None:
        """Forget the requests seen so far."""
        with self._changed:
            self._seen.clear()

    def wait_for(
        self, predicate: Callable[[list[Seen]], bool], timeout: float = CONTROL_TIMEOUT
    ) -> list[Seen]:
        """Block until ``predicate(seen)`` holds (AssertionError after ``timeout`` seconds)."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self._seen), timeout):
                raise AssertionError(f"timed out waiting on the proxy; seen: {self._seen!r}")
            return list(self._seen)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CONTROL_TIMEOUT)

    # -- the loop's side ---------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is not None:
            return
        if self._held is not None:
            self._held.close()
            self._held = None
        self._server = await asyncio.start_server(
            self._handle, HOST, self.port, limit=READ_LIMIT, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shut(self, *, hold: bool = False) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
            if hold:
                self._held = hold_port(self.port)
        if self._held is not None and not hold:
            self._held.close()
            self._held = None
        for transport in list(self._transports):
            transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=CONTROL_TIMEOUT)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        transport = writer.transport
        assert isinstance(transport, asyncio.WriteTransport)
        self._tasks.add(task)
        self._transports.add(transport)
        self.connections += 1
        try:
            await self._serve(reader, writer)
            writer.close()  # flushes what was written, then FIN
            await asyncio.wait_for(writer.wait_closed(), CONTROL_TIMEOUT)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except (asyncio.CancelledError, asyncio.TimeoutError):
            pass  # down() or stop(): the transport is aborted below
        finally:
            self._tasks.discard(task)
            self._transports.discard(transport)
            transport.abort()  # a no-op once closed

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered: float | None = None
        while True:
            seen = await _read_request(reader)
            if seen is None:
                return
            if answered is not None:
                seen.idle = time.monotonic() - answered
            action = self.rule(seen)
            seen.action = action.name
            with self._changed:
                self._seen.append(seen)
                self._changed.notify_all()
            if isinstance(action, Respond):
                writer.write(action.data)
                await writer.drain()
                answered = time.monotonic()
                if action.close:
                    return
            elif isinstance(action, Drip):
                writer.write(action.prefix)
                for start in range(0, len(action.data), action.size):
                    if writer.is_closing():
                        return
                    writer.write(action.data[start : start + action.size])
                    await writer.drain()  # ConnectionResetError once the client gave up
                    await asyncio.sleep(action.interval)
                return
            elif isinstance(action, Reset):
                _reset(writer)
                return
            elif isinstance(action, Close):
                return
            elif isinstance(action, Stall):
                await reader.read()  # until the client gives up (or the proxy stops)
                return
            elif isinstance(action, ForwardThenDrop):
                await self._forward(seen)
                if action.reset:
                    _reset(writer)
                return
            else:
                writer.write(await self._forward(seen))
                await writer.drain()
                return  # the upstream was asked to close: so does the proxy

    async def _forward(self, seen: Seen) -> bytes:
        """Send the request to the upstream (Connection: close); its whole answer."""
        if self.upstream is None:
            return http_response(502, b'{"detail": "FaultProxy has no upstream"}')
        host = self.upstream.host
        port = self.upstream.port or 80
        reader, writer = await asyncio.open_connection(host, port, limit=READ_LIMIT)
        try:
            headers = {k: v for k, v in seen.headers.items() if k not in ("connection", "host")}
            headers["host"] = f"{host}:{port}"
            headers["connection"] = "close"
            head = [f"{seen.method} ".encode() + seen.target + b" HTTP/1.1"]
            head += [f"{k}: {v}".encode("latin-1") for k, v in headers.items()]
            writer.write(b"\r\n".join(head) + b"\r\n\r\n" + seen.body)
            await writer.drain()
            return await reader.read()  # until the upstream closes
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    """One request off the connection; None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    request_line, *header_lines = head[:-4].split(b"\r\n")
    method, target, _version = request_line.split(b" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Seen(method=method.decode("ascii"), target=target, headers=headers, body=body)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets an RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# ----------------------------------------------------------------------------------------
# Servers and their jobs
# ----------------------------------------------------------------------------------------


def start_local_server(config: LocalServerConfig, port: int | None = None) -> LocalServer:
    """A LocalServer on an explicit port (so it can be restarted on it; see test_restart.py).

    A free port can be taken between picking and binding it: a few picks are tried.
    """
    for attempt in range(3):
        try:
            return LocalServer(config, port=port or free_port()).start()
        except OSError:
            if port is not None or attempt == 2:
                raise
    raise AssertionError("unreachable")


def job_count(base_url: str) -> int:
    """How many jobs the server holds, from a direct GET /queue: queued, running, finished."""
    with loopback_http(base_url) as http:
        queue = http.get("/queue").raise_for_status().json()
    running = 1 if queue["running_job"] is not None else 0
    return int(queue["queue_size"] + running + queue["completed_jobs"] + queue["failed_jobs"])


@dataclass
class Sleeper:
    """A client's ``_sleep``: records every delay asked for, runs ``hook`` (the test's
    sequencing point), and really sleeps at most ``cap`` seconds."""

    cap: float = 0.01
    delays: list[float] = field(default_factory=list)
    hook: Callable[[float], None] | None = None

    def sync(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.hook is not None:
            self.hook(seconds)
        time.sleep(min(seconds, self.cap))

    async def asynchronous(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.hook is not None:
            self.hook(seconds)
        await asyncio.sleep(min(seconds, self.cap))


@contextlib.contextmanager
def proxy(upstream: str | None = None, rule: Rule | None = None) -> Iterator[FaultProxy]:
    """``with proxy(server.url, Script(...)) as p:``: a started FaultProxy, stopped after."""
    with FaultProxy(upstream, rule) as started:
        yield started
