"""How one request is sent: within its time budget, and with its body read under the size cap.

The generated endpoint functions call ``request()`` on what the clients give them: for
each attempt of a call, a view of :class:`BoundedSender` / :class:`AsyncBoundedSender`
(around the httpx client), ``attempt(timeout, time_left)``, that carries the bounds of
that call (its :class:`~.options.CallOptions`). They travel with the request, not as
ambient state.

Time. httpx's timeouts bound each network operation, so a server that drips one byte a
second never trips them. Here the call's ``timeout`` (else the client's) bounds the whole
request (waiting for a connection, connecting, sending, the headers and the body), and a
wait's deadline bounds the poll in flight (``time_left``):

- async: the request runs in an anyio cancel scope with that deadline (any transport);
- sync: every socket operation of the client's own connection pool is given only the time
  left (``deadline.py``: a wrapper of httpcore's network backend, which learns the
  deadline of the request it serves from a context variable set around ``send``: httpcore
  gives it no other way), and the body is checked between chunks.
  An injected ``httpx.Client`` keeps its transport: its per-operation timeouts are cut to
  the budget and the body is checked between chunks, but headers dripped byte by byte can
  outlast the budget there.

Size. Bodies are read raw and decoded by :class:`~.limits.BodyReader`, up to
``max_response_bytes`` (any client, injected ones included).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import httpx

from .._text import REDACTED, secrets_sent
from .limits import EXCERPT_READ, BodyReader, accept_encoding, too_large
from .options import ClientTimeout

# A poll in flight is given at least this long, even at (or past) a wait's deadline: a
# wait with timeout=0 still checks once, and a poll that is nearly done is not cut off.
MIN_REQUEST_TIME = 1.0

# What a sender's send() gives: the response (sync), or a coroutine of it (async).
_Sent = TypeVar("_Sent")


# The monotonic deadline of the sync request this thread is sending, set by BoundedSender
# around each request it sends and read by _DeadlineBackend's streams: httpcore calls its
# network backend with nothing that identifies the request.
_IO_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "lmms_eval_client_io_deadline", default=None
)


def whole_request_budget(timeout: httpx.Timeout) -> float | None:
    """The longest a whole request may take: the largest of the timeout's phases.

    None when any phase is unbounded (``timeout=None``, or e.g. ``read=None``).
    """
    phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    if any(phase is None for phase in phases):
        return None
    return max(phase for phase in phases if phase is not None)


def _chosen(client_timeout: httpx.Timeout, timeout: httpx.Timeout | ClientTimeout) -> httpx.Timeout:
    """A request's timeout: the call's ``timeout``, or the client's (CLIENT_TIMEOUT)."""
    return timeout if isinstance(timeout, httpx.Timeout) else client_timeout


def request_budget(
    client_timeout: httpx.Timeout, timeout: httpx.Timeout | ClientTimeout
) -> float | None:
    """The longest one request of a call may take: by its ``timeout`` (CLIENT_TIMEOUT: the
    client's); None when unbounded."""
    return whole_request_budget(_chosen(client_timeout, timeout))


def _plan(
    client_timeout: httpx.Timeout, timeout: httpx.Timeout | ClientTimeout, until: float | None
) -> tuple[float | None, httpx.Timeout]:
    """A request's budget in seconds (None: unbounded) and its per-phase timeouts.

    ``timeout``: the call's (CLIENT_TIMEOUT: the client's); ``until``: the monotonic time
    by which the call's requests should end (a wait's deadline), if any.
    """
    chosen = _chosen(client_timeout, timeout)
    budget = whole_request_budget(chosen)  # (request_budget, the timeout chosen once)
    if until is not None:
        left = max(until - time.monotonic(), MIN_REQUEST_TIME)
        budget = left if budget is None else min(budget, left)
    if budget is None:
        return None, chosen
    total = budget

    def cut(phase: float | None) -> float:
        return total if phase is None else min(phase, total)

    return total, httpx.Timeout(
        connect=cut(chosen.connect),
        read=cut(chosen.read),
        write=cut(chosen.write),
        pool=cut(chosen.pool),
    )


def _until(time_left: float | None) -> float | None:
    return None if time_left is None else time.monotonic() + time_left


def _over_budget(budget: float) -> str:
    return f"the request did not complete within its time budget of {budget:g} s"


_REDACTED_BYTES = REDACTED.encode()
# Credentials this long are random enough never to be part of an honest answer.
MIN_MASKED_IN_DATA = 16


def _keep(response: httpx.Response, content: bytes) -> None:
    # What httpx's own read() sets: .content, .text and .json() then work as usual. The
    # client's own long credentials (an API key, a session token) are masked first: a
    # server that quotes them (a job's error, /tasks' error) must not put them into a
    # model, an error, a pickle or a log. A short one ("test", a 4-digit password) could
    # be in any answer ("mme_test", 12345): it is masked where a server's text enters an
    # error only (SecretMask), never in data.
    for secret in secrets_sent(response.request):
        if len(secret) >= MIN_MASKED_IN_DATA:
            content = content.replace(secret.encode(), _REDACTED_BYTES)
    response._content = content


def _read_by_a_hook(response: httpx.Response, limit: int) -> bool:
    """Whether a response hook of an injected client read the body already; checks its size."""
    if not response.is_stream_consumed:
        return False
    try:
        content = response.content
    except httpx.ResponseNotRead:  # streamed away by the hook: nothing left to parse
        content = b""
    if len(content) > limit:
        raise too_large(response, limit, content[:EXCERPT_READ])
    _keep(response, content)
    return True


@dataclass(frozen=True)
class _Attempt(Generic[_Sent]):
    """One attempt's view of a sender (sync or async), with the bounds of its call."""

    send: Callable[[_Attempt[_Sent], str, str, dict[str, Any]], _Sent]
    timeout: httpx.Timeout | ClientTimeout
    until: float | None

    def request(self, method: str, url: str, **kwargs: Any) -> _Sent:
        # async: the sender's coroutine, which the generated code awaits
        return self.send(self, method, url, kwargs)


class BoundedSender:
    """A client's sender: each attempt of a call sends through its ``attempt()`` view.

    The view's ``request()`` (what the generated endpoint functions call, as on an
    httpx.Client) returns a response whose body is read (at most ``max_response_bytes``
    of it) within the request's time budget.
    """

    def __init__(self, http: httpx.Client, max_response_bytes: int, *, owned: bool) -> None:
        self._http = http
        self._limit = max_response_bytes
        if owned:  # an injected client's transport is the caller's: left as it is
            # httpcore is imported here, with the client, not when the SDK is imported
            from .deadline import install_deadline_backend

            install_deadline_backend(http)

    def attempt(
        self, timeout: httpx.Timeout | ClientTimeout, time_left: float | None
    ) -> httpx.Client:
        """What one attempt sends through: ``timeout`` (else the client's) bounds each
        request, and ``time_left`` seconds from now (at least MIN_REQUEST_TIME), if given."""
        return cast(httpx.Client, _Attempt(self.send, timeout, _until(time_left)))

    def send(
        self, attempt: _Attempt[Any], method: str, url: str, kwargs: dict[str, Any]
    ) -> httpx.Response:
        budget, per_phase = _plan(self._http.timeout, attempt.timeout, attempt.until)
        deadline = None if budget is None else time.monotonic() + budget
        request = self._http.build_request(method, url, timeout=per_phase, **kwargs)
        request.headers["Accept-Encoding"] = accept_encoding(request.headers.get("accept-encoding"))
        token = _IO_DEADLINE.set(deadline)
        try:
            response = self._http.send(request, stream=True)
            try:
                if not _read_by_a_hook(response, self._limit):
                    body = BodyReader(response, self._limit)
                    for chunk in response.iter_raw():
                        body.feed(chunk)
                        if deadline is not None and time.monotonic() > deadline:
                            assert budget is not None
                            raise httpx.ReadTimeout(_over_budget(budget), request=request)
                    _keep(response, body.content())
            finally:
                response.close()
        finally:
            _IO_DEADLINE.reset(token)
        return response


# ----------------------------------------------------------------------------------------
# async: an anyio cancel scope
# ----------------------------------------------------------------------------------------


class _Progress:
    """How far a request got, from httpcore's trace events: which timeout it ran into."""

    def __init__(self) -> None:
        self.events = 0
        self.connecting = False
        self.sending = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        self.events += 1
        if ".connect_" in event or ".start_tls" in event:
            self.connecting = True
        elif "send_request_headers.started" in event:
            self.sending = True

    def timeout(self, request: httpx.Request, budget: float) -> httpx.TimeoutException:
        # Without any event (a pool wait, or a transport that does not trace) the request
        # may have been sent: say so, so a submission is never retried on a guess.
        message = _over_budget(budget)
        if self.sending or not self.events:
            return httpx.ReadTimeout(message, request=request)
        if self.connecting:
            return httpx.ConnectTimeout(message, request=request)
        return httpx.PoolTimeout(message, request=request)


class AsyncBoundedSender:
    """A client's sender: each attempt of a call sends through its ``attempt()`` view.

    The view's ``request()`` (what the generated endpoint functions call, as on an
    httpx.AsyncClient) returns a response whose body is read (at most
    ``max_response_bytes`` of it) within the request's time budget.
    """

    def __init__(self, http: httpx.AsyncClient, max_response_bytes: int, *, owned: bool) -> None:
        # ``owned`` as in BoundedSender; unused: cancellation bounds any transport.
        self._http = http
        self._limit = max_response_bytes

    def attempt(
        self, timeout: httpx.Timeout | ClientTimeout, time_left: float | None
    ) -> httpx.AsyncClient:
        """As BoundedSender.attempt."""
        return cast(httpx.AsyncClient, _Attempt(self.send, timeout, _until(time_left)))

    async def send(
        self, attempt: _Attempt[Any], method: str, url: str, kwargs: dict[str, Any]
    ) -> httpx.Response:
        import anyio  # on first use, as in _async/_io.py: sync users never need it

        budget, per_phase = _plan(self._http.timeout, attempt.timeout, attempt.until)
        progress = _Progress()
        request = self._http.build_request(
            method, url, timeout=per_phase, extensions={"trace": progress.trace}, **kwargs
        )
        request.headers["Accept-Encoding"] = accept_encoding(request.headers.get("accept-encoding"))
        response: httpx.Response | None = None
        with anyio.move_on_after(budget) as scope:
            try:
                response = await self._http.send(request, stream=True)
                if not _read_by_a_hook(response, self._limit):
                    body = BodyReader(response, self._limit)
                    async for chunk in response.aiter_raw():
                        body.feed(chunk)
                    _keep(response, body.content())
            finally:
                if response is not None:
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
        if scope.cancelled_caught:
            assert budget is not None
            raise progress.timeout(request, budget)
        assert response is not None
        return response
