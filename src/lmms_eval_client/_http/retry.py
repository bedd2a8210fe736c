"""The retry policy both clients share: which failures to retry, and how long to wait.

The rule that matters most: a request that may have reached the server is only retried
when repeating it cannot duplicate work. Submitting a job (POST /evaluate) or merging a
checkpoint (POST /merge) is retried only when the connection failed before anything
was sent; a lost answer to a submission must never become a second GPU job.
"""

from __future__ import annotations

import email.utils
import enum
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import httpx

from lmms_eval_api.errors import UnexpectedResponseBody

from .._exceptions import APIConnectionError, APIStatusError, LmmsEvalError, RateLimitError
from .._log import logger
from .._text import where
from .options import ClientTimeout

if TYPE_CHECKING:  # the generated types load pydantic: only when a request is sent
    from lmms_eval_api.types import Response

DEFAULT_MAX_RETRIES = 2
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
# A Retry-After longer than this is capped: a client should not go silent for minutes.
MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# A gateway that failed or timed out may have passed the request on to the server.
GATEWAY_STATUSES = frozenset({502, 504})

# What one attempt of a request ended with.
Outcome: TypeAlias = (
    "Response[Any] | httpx.RequestError | httpx.InvalidURL | UnexpectedResponseBody"
)
# What sending can raise that becomes an Outcome. httpx.InvalidURL: a 3xx whose Location
# httpx cannot parse (it builds the next request even with redirects off).
SEND_FAILURES = (httpx.RequestError, httpx.InvalidURL, UnexpectedResponseBody)


class Idempotency(enum.Enum):
    """How safely an operation can be repeated."""

    SAFE = "safe"  # GET, and DELETE /jobs/{id}: repeating changes nothing more
    UNSAFE = "unsafe"  # POST /evaluate, /merge: repeating may duplicate work


# Failures where httpx guarantees the request did not leave: safe to retry for anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures after the request may have been sent (reset, timeout waiting for the answer...).
_MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def may_have_been_sent(exc: httpx.TransportError) -> bool:
    """Whether the request may have reached the server before this failure."""
    return not isinstance(exc, _NOT_SENT)


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries (0: none) with capped exponential backoff and jitter.

    ``random`` and ``now`` are replaceable for tests.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    random: Callable[[], float] = random.random
    now: Callable[[], float] = time.time

    def retry_after_error(
        self, idempotency: Idempotency, exc: httpx.TransportError, retries_done: int
    ) -> float | None:
        """Seconds to wait before retrying after a transport failure, or None to give up."""
        if retries_done >= self.max_retries:
            return None
        if isinstance(exc, _NOT_SENT):
            return self.backoff(retries_done)
        if idempotency is not Idempotency.UNSAFE and isinstance(exc, _MAYBE_SENT):
            return self.backoff(retries_done)
        return None

    def retry_after_response(
        self, idempotency: Idempotency, response: httpx.Response, retries_done: int
    ) -> float | None:
        """Seconds to wait before retrying after this response, or None to accept it."""
        if retries_done >= self.max_retries or idempotency is Idempotency.UNSAFE:
            return None
        if response.status_code not in RETRYABLE_STATUSES:
            return None
        hinted = self.retry_after_header(response)
        return hinted if hinted is not None else self.backoff(retries_done)

    def backoff(self, retries_done: int) -> float:
        """0.5 s doubling per retry, capped at 8 s, times a jitter factor in [0.75, 1]."""
        # The exponent is bounded first: 2.0**1025 overflows, and 2**5 already hits the cap.
        base = min(INITIAL_BACKOFF * 2.0 ** min(retries_done, 16), MAX_BACKOFF)
        return base * (1 - 0.25 * self.random())

    def retry_after_header(self, response: httpx.Response) -> float | None:
        """The server's Retry-After (seconds or an HTTP date), capped; None if absent or bad."""
        value = response.headers.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - self.now()
        if seconds != seconds:  # NaN
            return None
        return min(max(seconds, 0.0), MAX_RETRY_AFTER)


NO_RETRY = RetryPolicy(max_retries=0)


def is_transient(error: LmmsEvalError) -> bool:
    """Whether a failed request may well succeed if simply tried again later: the server
    unreachable (or its answer lost), or a 429/502/503/504 (busy, or a proxy in front of a
    server that is down). The one such predicate: waits, the CLI's watch, evaluation runs
    and the pool (``_pool.errors.is_unreachable``) all ask this one.
    """
    if isinstance(error, (APIConnectionError, RateLimitError)):
        return True
    return isinstance(error, APIStatusError) and error.status_code in RETRYABLE_STATUSES


def _status_of(outcome: Outcome) -> httpx.Response | None:
    if isinstance(outcome, UnexpectedResponseBody):
        return outcome.response
    if isinstance(outcome, Exception):
        return None
    return outcome.http_response  # a Response


def retry_delay(
    policy: RetryPolicy,
    idempotency: Idempotency,
    outcome: Outcome,
    retries_done: int,
    *,
    longest: float = math.inf,
    deadline: float | None = None,
    now: float = 0.0,
) -> float | None:
    """Seconds to wait before sending again after this outcome, or None to stop here.

    The policy's delay is not waited when longer than ``longest`` (see
    :func:`longest_wait`), and is cut to what is left before ``deadline`` (``now`` on the
    same clock); the retry line logged says what is done, not what the server asked.
    """
    response = _status_of(outcome)
    if response is not None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s -> %s", where(response.request), response.status_code)
        delay = policy.retry_after_response(idempotency, response, retries_done)
        what = f"status {response.status_code}"
        request: httpx.Request | None = response.request
    else:
        assert isinstance(outcome, (httpx.RequestError, httpx.InvalidURL))
        delay = (
            policy.retry_after_error(idempotency, outcome, retries_done)
            if isinstance(outcome, httpx.TransportError)
            else None
        )
        what = type(outcome).__name__
        request = None
        if isinstance(outcome, httpx.RequestError):
            try:
                request = outcome.request
            except RuntimeError:
                request = None
        logger.debug("%s failed: %s", where(request) if request else "request", what)
    said = where(request) if request is not None else "request"
    if delay is not None and delay > longest:
        logger.info(
            "%s failed (%s); not retried: the server asks for a wait of %.2f s, longer "
            "than this call waits (%.2f s)",
            said,
            what,
            delay,
            longest,
        )
        return None
    delay = within_deadline(delay, deadline, now)
    if delay is not None:
        logger.info(
            "%s failed (%s); retry %d of %d in %.2f s",
            said,
            what,
            retries_done + 1,
            policy.max_retries,
            delay,
        )
    return delay


def longest_wait(client: httpx.Timeout, call: httpx.Timeout | ClientTimeout) -> float:
    """The longest a retry may be waited for: the call's timeout (its longest phase; the
    client's when the call gives none), or the backoff's cap if longer, so that a
    Retry-After of an hour does not hold a call of 1 s for minutes while the client's own
    backoff still retries a short call. Infinite without a timeout.

    >>> longest_wait(httpx.Timeout(60.0, connect=10.0), httpx.Timeout(1.0))
    8.0
    """
    timeout = client if isinstance(call, ClientTimeout) else call
    phases = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t]
    return max(*phases, MAX_BACKOFF) if len(phases) == 4 else math.inf


def within_deadline(delay: float | None, deadline: float | None, now: float) -> float | None:
    """A retry delay cut to what is left before a deadline; None when no time is left."""
    if delay is None or deadline is None:
        return delay
    remaining = deadline - now
    return min(delay, remaining) if remaining > 0 else None
