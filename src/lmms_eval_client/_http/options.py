"""A call's own options, as one value from the public method down to each request it sends.

openai-python's ``FinalRequestOptions`` is the model: a public method turns its per-call
arguments (``timeout=``, ``reconcile=``) into a :class:`CallOptions`, checked before
anything is sent, and hands that value on; every request of the call (its retries, and
the reads of a reconciliation) is sent with it. Nothing of a call travels as ambient
state: the transport is given each attempt's bounds explicitly
(``BoundedSender.attempt``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import httpx

from .config import check_request_timeout


class ClientTimeout:
    """The default of a call's ``timeout=``: the client's own timeout applies."""

    def __repr__(self) -> str:
        return "CLIENT_TIMEOUT"


CLIENT_TIMEOUT = ClientTimeout()
# A call's timeout: seconds, an httpx.Timeout, None (no timeout), or the client's.
RequestTimeout = float | httpx.Timeout | ClientTimeout | None


@dataclass(frozen=True)
class CallOptions:
    """What one call asks of every request it sends.

    Build it with :meth:`of`, which checks the caller's arguments.

    Attributes:
        timeout: The budget of each request instead of the client's (an httpx.Timeout,
            ``httpx.Timeout(None)`` for none), or CLIENT_TIMEOUT.
        deadline: When the call ends, on the client's clock (a wait's deadline; None:
            none): the request in flight is cut there (it gets at least
            ``transport.MIN_REQUEST_TIME``) and no retry starts after it.
        retry: Whether failed requests are retried by the client's policy.
        reconcile: ``evaluate(reconcile=True)``: a lost answer is reconciled.
    """

    timeout: httpx.Timeout | ClientTimeout = CLIENT_TIMEOUT
    deadline: float | None = None
    retry: bool = True
    reconcile: bool = False

    @classmethod
    def of(
        cls,
        timeout: RequestTimeout = CLIENT_TIMEOUT,
        *,
        deadline: float | None = None,
        retry: bool = True,
        reconcile: bool = False,
    ) -> CallOptions:
        """A call's options from its arguments, checked (InvalidArgumentError: nothing sent)."""
        checked = timeout if isinstance(timeout, ClientTimeout) else check_request_timeout(timeout)
        return cls(checked, deadline, retry, reconcile)

    @classmethod
    def bounded(
        cls, timeout: RequestTimeout, now: float, *, reconcile: bool = False
    ) -> CallOptions:
        """The options of a call of several requests (a pool's) whose ``timeout`` bounds
        the whole call: its deadline is ``now`` (the clients' clock) plus the timeout's
        budget (its longest phase), so no retry starts after it and each request gets
        only what is left. CLIENT_TIMEOUT, or a timeout with an unbounded phase: no
        deadline (each request has the client's, or no, budget)."""
        from .transport import whole_request_budget  # (it imports this module)

        options = cls.of(timeout, reconcile=reconcile)
        if isinstance(options.timeout, ClientTimeout):
            return options
        budget = whole_request_budget(options.timeout)
        return options if budget is None else replace(options, deadline=now + budget)


DEFAULT_OPTIONS = CallOptions()
