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
    │                                 that is not JSON or does not match the contract
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

# How much of a response body an error message quotes: enough to recognise an HTML error
# page or a truncated document, never megabytes.
BODY_EXCERPT_BYTES = 200


def body_excerpt(content: bytes) -> str:
    """The first bytes of a body, printable, marked when cut."""
    text = repr(content[:BODY_EXCERPT_BYTES])
    if len(content) > BODY_EXCERPT_BYTES:
        text += f" ... ({len(content)} bytes)"
    return text


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


# --- Results files (reading what lmms-eval wrote) ------------------------------------------
#
# LmmsEvalError
# ├── ResultsError                  a results, samples or log file could not be found or read
# │   ├── ResultsNotReachableError  the server's file is not reachable from this machine
# │   ├── ResultsFormatError        (also ValueError) the file is not what lmms-eval writes
# │   ├── ResultsUnavailableError   the job has no such files (not completed, failed, ...)
# │   ├── MetricNotFoundError       (also KeyError) no such task / metric / filter
# │   └── SamplesNotFoundError      (also KeyError) no samples file for that task
# └── MissingDependencyError        (also ImportError) an optional extra is not installed


class _PicklableByMessage:
    """Mixin of an error that pickles (and deep-copies) as its message plus its attributes.

    Exceptions are rebuilt from ``args`` alone, which would drop keyword-only attributes;
    every class using it takes its message positionally and gives its attributes defaults.
    (Not an Exception itself: only the public error classes are.)
    """

    args: tuple[Any, ...]

    def __reduce__(self) -> tuple[Any, ...]:
        message = self.args[0] if self.args else ""
        return (type(self), (message,), dict(self.__dict__))

    def __str__(self) -> str:
        # KeyError would show repr(message), quotes and escaped newlines included.
        return str(self.args[0]) if self.args else ""


class ResultsError(_PicklableByMessage, LmmsEvalError):
    """A results, samples or log file of an evaluation could not be found or read.

    Attributes:
        path: The file (or folder) concerned, as this machine tried to reach it (a local
            path or a URL), when there is one.
    """

    def __init__(self, message: str = "", *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ResultsNotReachableError(ResultsError):
    """A file the server wrote is not reachable from this machine.

    Results are files on the server's disk. Read them on the same machine, over a shared
    filesystem, through a ``path_map`` from the server's folder to where it is mounted here
    (or ``$LMMS_EVAL_PATH_MAP``), or through an fsspec ``filesystem``.

    Attributes:
        server_path: The path on the server's disk (None when a local path was given).
        client_path: Where this machine looked for it (also ``path``).
        reason: What went wrong there, e.g. ``"no such file"`` or ``"permission denied"``.
    """

    def __init__(
        self,
        message: str = "",
        *,
        server_path: str | None = None,
        client_path: str | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message, path=client_path)
        self.server_path = server_path
        self.client_path = client_path
        self.reason = reason


class ResultsFormatError(ResultsError, ValueError):
    """A file is not what lmms-eval writes: truncated or corrupt JSON, another shape, a
    samples line that is not a JSON object, or a folder where a file was expected.

    Also a ValueError, as the ``json.JSONDecodeError`` it replaces.

    Attributes:
        path: The file.
        line: The 1-based line of a samples file (None for a results file).
        reason: What is wrong with it.
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        line: int | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message, path=path)
        self.line = line
        self.reason = reason


class ResultsUnavailableError(ResultsError):
    """The job has no such files: it is not completed, it failed, or the server listed none.

    Attributes:
        job_id: The job's id.
        status: Its status when it was looked at (e.g. ``"failed"``).
    """

    def __init__(
        self, message: str = "", *, job_id: str = "", status: str = "", path: str | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.job_id = job_id
        self.status = status


class MetricNotFoundError(ResultsError, KeyError):
    """``EvalResults.metric()`` found no such task, metric or filter.

    Also a KeyError, as the dict lookup it replaces. The message lists what is available.

    Attributes:
        task: The task asked for.
        name: The metric asked for (e.g. ``"exact_match"``).
        filter: The filter asked for (e.g. ``"none"``).
        available: The metrics the file has, as ``"<task>: <metric>,<filter>"``.
    """

    def __init__(
        self,
        message: str = "",
        *,
        task: str = "",
        name: str = "",
        filter: str = "",
        available: list[str] | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.task = task
        self.name = name
        self.filter = filter
        self.available = list(available or [])


class SamplesNotFoundError(ResultsError, KeyError):
    """No samples file is known for that task.

    lmms-eval writes one per task only with ``log_samples=True``, and none for a group
    (its subtasks have them). Also a KeyError.

    Attributes:
        task: The task asked for.
        available: The tasks that have a samples file.
    """

    def __init__(
        self,
        message: str = "",
        *,
        task: str = "",
        available: list[str] | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.task = task
        self.available = list(available or [])


class MissingDependencyError(_PicklableByMessage, LmmsEvalError, ImportError):
    """A feature needs an optional extra that is not installed.

    Also an ImportError. The message names the ``pip install`` that fixes it.

    Attributes:
        package: The missing package (e.g. ``"pandas"``).
        extra: The extra of lmms-eval-client that installs it (e.g. ``"pandas"``).
    """

    def __init__(self, message: str = "", *, package: str = "", extra: str = "") -> None:
        super().__init__(message)
        self.name = package  # ImportError's own attribute for the missing module
        self.package = package
        self.extra = extra
