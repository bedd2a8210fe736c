"""The errors of lmms-eval-client: one tree, rooted in :class:`LmmsEvalError`.

::

    LmmsEvalError
    ├── InvalidArgumentError          (also ValueError and TypeError) bad input, nothing sent
    ├── ClientClosedError             (also RuntimeError) the client was used after close()
    ├── EventLoopError                (also RuntimeError) an async client used across live loops
    ├── APIConnectionError            (also httpx.TransportError) the server could not be
    │   │                             reached, or the connection broke
    │   ├── APITimeoutError           (also httpx.TimeoutException) a request timed out
    │   └── ServerUnreachableError    a pool's server holding a job is unreachable (job kept)
    ├── APIStatusError                (also httpx.HTTPStatusError) the server answered 4xx/5xx
    │   ├── BadRequestError           400, e.g. cancelling a running or finished job
    │   ├── AuthenticationError       401 (from an authenticating proxy)
    │   ├── PermissionDeniedError     403
    │   ├── NotFoundError             404
    │   │   └── JobNotFoundError      404 for a job id
    │   ├── UnprocessableEntityError  422, with the server's field errors
    │   ├── RateLimitError            429
    │   └── InternalServerError       5xx
    ├── APIResponseValidationError    (also ValueError, as json's JSONDecodeError was) a 2xx body
    │   │                             that is not JSON or does not match the contract
    │   └── ResponseTooLargeError     a body beyond the client's max_response_bytes
    ├── DiscoveryError                /tasks or /models answered with an ``error`` field
    ├── JobError                      (also RuntimeError) a waited-for job ended badly
    │   ├── JobFailedError            the job failed; carries the JobInfo and the server's error
    │   └── JobCancelledError         the job was cancelled
    ├── WaitTimeoutError              (also TimeoutError) wait_for_job's deadline passed
    └── NoServerAvailableError        no server of a pool can take a job now; nothing sent
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from ._text import SecretMask, failure_reason, redacted_request

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo


def _restore(
    kind: type[LmmsEvalError] | tuple[type[APIConnectionError], type[httpx.RequestError]],
    args: tuple[Any, ...],
    state: dict[str, Any],
) -> LmmsEvalError:
    """Rebuild a pickled or copied error without calling its __init__ again."""
    cls = with_httpx_class(*kind) if isinstance(kind, tuple) else kind
    exc = cls.__new__(cls, *args)
    exc.args = args  # OSError (TimeoutError) sets them in __init__, which is not called
    exc.__dict__.update(state)
    return exc


class LmmsEvalError(Exception):
    """Base class of every error this client raises.

    Every error round-trips through ``pickle`` and ``copy.deepcopy`` with its message and
    attributes (so it survives a ``ProcessPoolExecutor``); what it carries of a request has
    its credentials replaced by ``<redacted>``.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only __init__ arguments defeat BaseException's own reduce, and the classes
        # made by with_httpx_class are found again through their (base, cause) pair.
        pair = type(self).__dict__.get("_httpx_pair")
        kind = pair if pair is not None else type(self)
        state = dict(self.__dict__)
        if hasattr(state.get("job"), "to_dict"):  # a JobInfo: a pickle leaves the process
            from ._secret_args import masked_job  # (secret model_args ***, error masked)

            state["job"] = masked_job(state["job"])
        return (_restore, (kind, self.args, state))


class InvalidArgumentError(LmmsEvalError, ValueError, TypeError):
    """An argument was rejected before any request was sent."""


class ClientClosedError(LmmsEvalError, RuntimeError):
    """A request was made through a client after its ``close()``."""


class EventLoopError(LmmsEvalError, RuntimeError):
    """An AsyncEvalClient was used from an event loop that cannot use its connections.

    A client that owns its connections follows a new event loop by itself (a second
    ``asyncio.run()``, a notebook cell) once the old loop is closed; this is raised when the
    old loop still runs (one client used from two live loops: make one client per loop),
    or when an injected ``http_client`` belongs to a closed loop (create it in this loop).
    """


class APIConnectionError(LmmsEvalError, httpx.TransportError):
    """The server could not be reached, or the connection failed before an answer came.

    Also an :class:`httpx.TransportError` (so an ``httpx.HTTPError``), as lmms-eval's own
    client raised.

    Attributes:
        request: The httpx request that failed.
        may_have_been_sent: False when the request certainly never reached the server
            (the connection could not be made); True when it may have. For a job
            submission, True means the job may exist: check before submitting again.
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request | None = None,
        may_have_been_sent: bool = True,
    ) -> None:
        super().__init__(message)
        if request is not None:
            self.request = redacted_request(request)
        self.may_have_been_sent: bool = may_have_been_sent


class APITimeoutError(APIConnectionError, httpx.TimeoutException):
    """A request exceeded the client's network timeout (the ``timeout`` of the client)."""


_WITH_HTTPX_CLASS: dict[tuple[type[APIConnectionError], type[httpx.RequestError]], type[Any]] = {}


def with_httpx_class(
    base: type[APIConnectionError], cause: type[httpx.RequestError]
) -> type[APIConnectionError]:
    """``base`` that is also the exact httpx class of the failure it reports.

    So ``except httpx.ConnectError`` or ``except httpx.ReadTimeout``, written for lmms-eval's
    own client, still catch what this client raises. The classes are made once and cached.
    """
    if issubclass(base, cause):
        return base
    cls = _WITH_HTTPX_CLASS.get((base, cause))
    if cls is None:
        namespace = {
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "__doc__": base.__doc__,
            "_httpx_pair": (base, cause),
        }
        cls = type(base.__name__, (base, cause), namespace)
        _WITH_HTTPX_CLASS[(base, cause)] = cls
    return cls


class APIStatusError(LmmsEvalError, httpx.HTTPStatusError):
    """The server answered with a 4xx or 5xx status.

    Also an :class:`httpx.HTTPStatusError`, so ``except httpx.HTTPStatusError`` written for
    lmms-eval's own client still catches it.

    Attributes:
        status_code: The HTTP status.
        response: The httpx response.
        detail: The server's reason (FastAPI's ``detail``), or the start of the body.
        body: The decoded JSON body, or None when it was not JSON.
    """

    def __init__(self, message: str, *, response: httpx.Response, detail: str, body: Any) -> None:
        # Where a server's text enters an error: what it quotes of our credentials is masked.
        mask = SecretMask.of(response.request)
        response = mask.response(response)
        super().__init__(mask.text(message), request=response.request, response=response)
        self.status_code: int = response.status_code
        self.detail: str = mask.text(detail)
        self.body: Any = mask.json(body)


class BadRequestError(APIStatusError):
    """400: the server refused the request, e.g. cancelling a running or finished job."""


class AuthenticationError(APIStatusError):
    """401: a proxy in front of the server wants credentials (see ``api_key``)."""


class PermissionDeniedError(APIStatusError):
    """403: the credentials were not accepted for this operation."""


class NotFoundError(APIStatusError):
    """404: no such resource."""


class JobNotFoundError(NotFoundError):
    """404 for a job id: never submitted, evicted, or lost in a restart.

    The server keeps finished jobs in memory only, at most ``max_completed_jobs`` of them,
    and loses every job when it restarts.

    Attributes:
        job_id: The job id that was not found.
    """

    def __init__(
        self, message: str, *, response: httpx.Response, detail: str, body: Any, job_id: str
    ) -> None:
        super().__init__(message, response=response, detail=detail, body=body)
        self.job_id: str = job_id


class UnprocessableEntityError(APIStatusError):
    """422: the server rejected the request body.

    Attributes:
        errors: The server's field errors, each a dict with ``loc``, ``msg`` and ``type``.
    """

    def __init__(self, message: str, *, response: httpx.Response, detail: str, body: Any) -> None:
        super().__init__(message, response=response, detail=detail, body=body)
        raw = self.body.get("detail") if isinstance(self.body, dict) else None
        self.errors: list[dict[str, Any]] = (
            [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
        )


class RateLimitError(APIStatusError):
    """429: a proxy in front of the server is rate limiting."""


class InternalServerError(APIStatusError):
    """5xx: the server (or a proxy in front of it) failed."""


class APIResponseValidationError(LmmsEvalError, ValueError):
    """A successful response whose body is not JSON or does not match the contract (a job
    id no request can name, e.g. an empty one, included).

    Attributes:
        response: The httpx response.
        status_code: Its HTTP status.
    """

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        mask = SecretMask.of(response.request)  # as APIStatusError: a server's text enters
        super().__init__(mask.text(message))
        self.response: httpx.Response = mask.response(response)
        self.status_code: int = response.status_code


class DiscoveryError(LmmsEvalError):
    """``/tasks`` or ``/models`` answered 200 with an ``error`` instead of a list.

    Attributes:
        server_message: The server's ``error`` text (e.g. a missing module on the server).
    """

    def __init__(self, message: str, *, server_message: str) -> None:
        super().__init__(message)
        self.server_message: str = server_message


class JobError(LmmsEvalError, RuntimeError):
    """A job that was waited for ended without completing.

    A RuntimeError, as lmms-eval's own client raises for a failed job.

    Attributes:
        job: The job's final :class:`JobInfo` (pickled or copied as the command line shows it).
        job_id: Its id.
    """

    def __init__(self, message: str, *, job: JobInfo) -> None:
        super().__init__(message)
        self.job: JobInfo = job
        self.job_id: str = job.job_id


class JobFailedError(JobError):
    """The job failed on the server.

    Attributes:
        error: The server's error text (often the tail of the evaluation log), without the
            values of the job's secret model_args or any other ``api_key=``-like value.
        reason: The line of it that says why (its last exception or logged error), without
            colour codes, e.g. ``"ValueError: Tasks not found: no_such_task. ..."``.
    """

    def __init__(self, message: str, *, job: JobInfo) -> None:
        super().__init__(message, job=job)
        from ._results.redaction import redacted_error  # its rules load with a failed job

        self.error: str | None = redacted_error(job)
        self.reason: str = failure_reason(self.error)


class JobCancelledError(JobError):
    """The job was cancelled before it ran."""


class WaitTimeoutError(LmmsEvalError, TimeoutError):
    """``wait_for_job`` reached its ``timeout`` before the job finished.

    The job goes on running on the server; wait again or cancel it.

    Attributes:
        job: The last :class:`JobInfo` seen (None if no poll succeeded: server unreachable).
        job_id: The job's id.
    """

    def __init__(self, message: str, *, job: JobInfo | None, job_id: str) -> None:
        super().__init__(message)
        self.job: JobInfo | None = job
        self.job_id: str = job_id


class _PlainMessage:
    """Mixin: the message as given (pickling is LmmsEvalError's), also for a KeyError.

    (Not an Exception itself: only the public error classes are.)
    """

    args: tuple[Any, ...]

    def __str__(self) -> str:
        # KeyError would show repr(message), quotes and escaped newlines included.
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(_PlainMessage, LmmsEvalError, ImportError):
    """A feature needs an optional extra that is not installed.

    Also an ImportError. The message names the ``pip install`` that fixes it.

    Attributes:
        package: The missing package (e.g. ``"pandas"``).
        extra: The extra of lmms-eval-client that installs it (e.g. ``"pandas"``).
    """

    def __init__(self, message: str = "", *, package: str = "", extra: str = "") -> None:
        super().__init__(message)
        self.name: str | None = package  # ImportError's own attribute for the missing module
        self.package: str = package
        self.extra: str = extra


class ResponseTooLargeError(APIResponseValidationError):
    """A response body was larger than the client's ``max_response_bytes`` (after decompression).

    Its body was not kept: reading stopped at the limit (``.response.content`` is empty).
    Raise the limit on the client if such a body is legitimate.

    Attributes:
        limit: The limit that was exceeded, in bytes.
    """

    def __init__(self, message: str, *, response: httpx.Response, limit: int) -> None:
        super().__init__(message, response=response)
        self.limit: int = limit


# -- pools of servers (EvalPool / AsyncEvalPool) ----------------------------------------


class NoServerAvailableError(LmmsEvalError):
    """No server of a pool can take the job now; nothing was submitted.

    Every server is down, lacks the model or a task, or is at its cap
    (``max_jobs_per_server``). The message says why for each.

    Attributes:
        reasons: Why not, per server base URL.
    """

    def __init__(self, message: str = "", *, reasons: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.reasons: dict[str, str] = dict(reasons or {})


class ServerUnreachableError(APIConnectionError):
    """A server of a pool could not be reached about a job it holds.

    The job is not lost: it may be queued or running there. Ask again once the server
    answers; ``wait_for_job`` rides this out until its own deadline.

    Attributes:
        server: The server's base URL.
        job_id: The job asked about (None when the request was not about one job).
    """

    def __init__(
        self,
        message: str = "",
        *,
        server: str = "",
        job_id: str | None = None,
        request: httpx.Request | None = None,
        may_have_been_sent: bool = True,
    ) -> None:
        super().__init__(message, request=request, may_have_been_sent=may_have_been_sent)
        self.server: str = server
        self.job_id: str | None = job_id
