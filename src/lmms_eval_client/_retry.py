"""The retry policy both clients share: which failures to retry, and how long to wait.

The rule that matters most: a request that may have reached the server is only retried
when repeating it cannot duplicate work. Submitting a job (POST /evaluate) or merging a
checkpoint (POST /merge) is retried only when the connection failed before anything
was sent; a lost answer to a submission must never become a second GPU job.
"""

from __future__ import annotations

import email.utils
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

DEFAULT_MAX_RETRIES = 2
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
# A Retry-After longer than this is capped: a client should not go silent for minutes.
MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class Idempotency(enum.Enum):
    """How safely an operation can be repeated."""

    SAFE = "safe"  # GET: repeating changes nothing
    CANCEL = "cancel"  # DELETE /jobs/{id}: repeating is harmless, its answer may change
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
