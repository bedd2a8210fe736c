"""The errors of lmms-eval-client: one tree, rooted in :class:`LmmsEvalError`.

::

    LmmsEvalError
    ├── InvalidArgumentError          (also ValueError and TypeError) bad input, nothing sent
    ├── ClientClosedError             (also RuntimeError) the client was used after close()
    ├── APIConnectionError            (also httpx.TransportError) the server could not be
    │   │                             reached, or the connection broke
    │   └── APITimeoutError           (also httpx.TimeoutException) a request exceeded the
    │                                 client's network timeout
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
    └── WaitTimeoutError              (also TimeoutError) wait_for_job's deadline passed
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo


class LmmsEvalError(Exception):
    """Base class of every error this client raises."""


class InvalidArgumentError(LmmsEvalError, ValueError, TypeError):
    """An argument was rejected before any request was sent."""


class ClientClosedError(LmmsEvalError, RuntimeError):
    """A request was made through a client after its ``close()``."""


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
            self.request = request
        self.may_have_been_sent = may_have_been_sent


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
        cls = type(
            base.__name__, (base, cause), {"__module__": base.__module__, "__doc__": base.__doc__}
        )
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
        super().__init__(message, request=response.request, response=response)
        self.status_code = response.status_code
        self.detail = detail
        self.body = body


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
        self.job_id = job_id


class UnprocessableEntityError(APIStatusError):
    """422: the server rejected the request body.

    Attributes:
        errors: The server's field errors, each a dict with ``loc``, ``msg`` and ``type``.
    """

    def __init__(self, message: str, *, response: httpx.Response, detail: str, body: Any) -> None:
        super().__init__(message, response=response, detail=detail, body=body)
        raw = body.get("detail") if isinstance(body, dict) else None
        self.errors: list[dict[str, Any]] = (
            [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
        )


class RateLimitError(APIStatusError):
    """429: a proxy in front of the server is rate limiting."""


class InternalServerError(APIStatusError):
    """5xx: the server (or a proxy in front of it) failed."""


class APIResponseValidationError(LmmsEvalError, ValueError):
    """A successful response whose body is not JSON or does not match the contract.

    Attributes:
        response: The httpx response.
        status_code: Its HTTP status.
    """

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code


class DiscoveryError(LmmsEvalError):
    """``/tasks`` or ``/models`` answered 200 with an ``error`` instead of a list.

    Attributes:
        server_message: The server's ``error`` text (e.g. a missing module on the server).
    """

    def __init__(self, message: str, *, server_message: str) -> None:
        super().__init__(message)
        self.server_message = server_message


class JobError(LmmsEvalError, RuntimeError):
    """A job that was waited for ended without completing.

    A RuntimeError, as lmms-eval's own client raises for a failed job.

    Attributes:
        job: The job's final :class:`JobInfo`.
        job_id: Its id.
    """

    def __init__(self, message: str, *, job: JobInfo) -> None:
        super().__init__(message)
        self.job = job
        self.job_id = job.job_id


class JobFailedError(JobError):
    """The job failed on the server.

    Attributes:
        error: The server's error text (often the tail of the evaluation log).
    """

    def __init__(self, message: str, *, job: JobInfo) -> None:
        super().__init__(message, job=job)
        self.error = job.error


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
        self.job = job
        self.job_id = job_id


class ResponseTooLargeError(APIResponseValidationError):
    """A response body was larger than the client's ``max_response_bytes`` (after decompression).

    Its body was not kept: reading stopped at the limit (``.response.content`` is empty).
    Raise the limit on the client if such a body is legitimate.

    Attributes:
        limit: The limit that was exceeded, in bytes.
    """

    def __init__(self, message: str, *, response: httpx.Response, limit: int) -> None:
        super().__init__(message, response=response)
        self.limit = limit

    def __reduce__(self) -> tuple[Any, ...]:
        # What crosses a pickle is the status and the request line: never the request's
        # headers (they may carry the API key) nor the server's.
        request = self.response.request
        url = request.url
        if url.userinfo:
            url = url.copy_with(username=None, password=None)
        return (
            _rebuild_response_too_large,
            (str(self), self.limit, self.status_code, request.method, str(url)),
        )


def _rebuild_response_too_large(
    message: str, limit: int, status_code: int, method: str, url: str
) -> ResponseTooLargeError:
    response = httpx.Response(status_code, request=httpx.Request(method, url))
    return ResponseTooLargeError(message, response=response, limit=limit)
