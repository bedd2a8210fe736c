"""Everything EvalClient and AsyncEvalClient share that does no I/O.

Configuration, argument checks, request bodies, response interpretation, error mapping
and the decisions of ``wait_for_job``. The two client classes only send and sleep.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx

from lmms_eval_api.errors import UnexpectedResponseBody
from lmms_eval_api.models import (
    EvaluateRequest,
    JobInfo,
    JobStatus,
    MergeRequest,
    MergeRequestCheckpointType,
)
from lmms_eval_api.types import Response

from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DiscoveryError,
    InternalServerError,
    InvalidArgumentError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeoutError,
    body_excerpt,
)
from ._version import __version__

logger = logging.getLogger("lmms_eval_client")

T = TypeVar("T")

DEFAULT_BASE_URL = "http://localhost:8000"
BASE_URL_ENV = "LMMS_EVAL_BASE_URL"
API_KEY_ENV = "LMMS_EVAL_API_KEY"
# Finite, so a hung connection cannot hang a caller forever, yet generous: GET /tasks indexes
# every task YAML on the server and takes seconds, during which the server answers nothing else.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_POLL_INTERVAL = 5.0
USER_AGENT = f"lmms-eval-client/{__version__} httpx/{httpx.__version__}"
REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie"})

CheckpointType = Literal["regular", "ema"]


# ----------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientConfig:
    """The resolved settings of a client (constructor argument > environment > default)."""

    base_url: str
    timeout: httpx.Timeout
    headers: dict[str, str]
    http2: bool
    limits: httpx.Limits


def resolve_base_url(base_url: str | None) -> str:
    """The base URL from the argument, else $LMMS_EVAL_BASE_URL, else localhost:8000; checked."""
    url = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(url, str):
        raise InvalidArgumentError(f"base_url must be a str, got {type(url).__name__}")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidArgumentError(f"base_url {url!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgumentError(
            f"base_url {url!r} must be an absolute http(s) URL with a host, "
            "e.g. 'http://localhost:8000'"
        )
    return url.rstrip("/")


def resolve_config(
    base_url: str | None,
    timeout: float | httpx.Timeout | None,
    headers: Mapping[str, str] | None,
    api_key: str | None,
    http2: bool,
    limits: httpx.Limits | None,
) -> ClientConfig:
    """Resolve and check every constructor setting of a client that builds its own httpx client."""
    if timeout is not None and not isinstance(timeout, (int, float, httpx.Timeout)):
        raise InvalidArgumentError(
            f"timeout must be seconds, an httpx.Timeout or None, got {timeout!r}"
        )
    if isinstance(timeout, (int, float)) and timeout <= 0:
        raise InvalidArgumentError(f"timeout must be > 0 seconds (or None for none), got {timeout}")
    merged = {"User-Agent": USER_AGENT, **(headers or {})}
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if key:
        merged["Authorization"] = f"Bearer {key}"
    return ClientConfig(
        base_url=resolve_base_url(base_url),
        timeout=httpx.Timeout(timeout),
        headers=merged,
        http2=http2,
        limits=limits if limits is not None else httpx.Limits(),
    )


def check_injected_client_options(
    headers: Mapping[str, str] | None,
    api_key: str | None,
    timeout: float | httpx.Timeout | None,
    http2: bool,
    limits: httpx.Limits | None,
) -> None:
    """An injected httpx client is used as it is: refuse options we could not apply to it."""
    given = [
        name
        for name, is_set in (
            ("headers", headers is not None),
            ("api_key", api_key is not None),
            ("timeout", timeout is not DEFAULT_TIMEOUT),
            ("http2", http2),
            ("limits", limits is not None),
        )
        if is_set
    ]
    if given:
        raise InvalidArgumentError(
            f"{', '.join(given)} cannot be applied to an injected http_client: "
            "configure them on the httpx client you pass"
        )


def adopt_base_url(client: httpx.Client | httpx.AsyncClient, base_url: str | None) -> str:
    """Give an injected httpx client without a base URL ours; return the URL it will use."""
    if str(client.base_url):
        if base_url is not None and resolve_base_url(base_url) != str(client.base_url).rstrip("/"):
            raise InvalidArgumentError(
                f"base_url {base_url!r} differs from the injected http_client's "
                f"base_url {str(client.base_url)!r}: pass one of them"
            )
        return str(client.base_url).rstrip("/")
    url = resolve_base_url(base_url)
    client.base_url = httpx.URL(url)
    return url


def httpx_client_kwargs(config: ClientConfig) -> dict[str, Any]:
    """Keyword arguments for httpx.Client / httpx.AsyncClient from a resolved config."""
    return {
        "base_url": config.base_url,
        "timeout": config.timeout,
        "headers": config.headers,
        "http2": config.http2,
        "limits": config.limits,
    }


def redacted_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to show in a repr or a log line: secrets replaced."""
    return {k: REDACTED if k.lower() in _SECRET_HEADERS else v for k, v in headers.items()}


# ----------------------------------------------------------------------------------------
# Arguments and request bodies
# ----------------------------------------------------------------------------------------


def check_job_id(job_id: object) -> str:
    """A job id that is safe to put in a path segment (it is percent-encoded there)."""
    if not isinstance(job_id, str):
        raise InvalidArgumentError(f"job_id must be a str, got {type(job_id).__name__}")
    if not job_id:
        raise InvalidArgumentError("job_id must not be empty")
    if job_id in (".", ".."):
        # Dot segments survive percent-encoding and would be resolved to another path.
        raise InvalidArgumentError(f"job_id {job_id!r} is not a job id")
    return job_id


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")


def build_evaluate_request(
    model: str,
    tasks: Sequence[str] | str,
    model_args: Mapping[str, Any] | None,
    num_fewshot: int | None,
    batch_size: int | str | None,
    device: str | None,
    limit: int | float | None,
    gen_kwargs: str | None,
    log_samples: bool,
    predict_only: bool,
    num_gpus: int,
    output_dir: str | None,
) -> EvaluateRequest:
    """Check evaluate()'s arguments and build the request body, leaving out every None option."""
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError(f"model must be a non-empty str, got {model!r}")
    task_list = [tasks] if isinstance(tasks, str) else tasks
    if not isinstance(task_list, (list, tuple)):
        raise InvalidArgumentError(
            f"tasks must be a list of task names (or one name as a str), got {type(tasks).__name__}"
        )
    if not task_list:
        raise InvalidArgumentError("tasks must name at least one task")
    for task in task_list:
        if not isinstance(task, str) or not task:
            raise InvalidArgumentError(f"every task must be a non-empty str, got {task!r}")
    if model_args is not None and not isinstance(model_args, Mapping):
        raise InvalidArgumentError(f"model_args must be a mapping, got {type(model_args).__name__}")
    if num_fewshot is not None:
        _check_int("num_fewshot", num_fewshot, 0)
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0
    ):
        raise InvalidArgumentError(f"limit must be a number > 0, got {limit!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, str))
    ):
        raise InvalidArgumentError(f"batch_size must be an int or a str, got {batch_size!r}")
    _check_int("num_gpus", num_gpus, 1)
    for name, flag in (("log_samples", log_samples), ("predict_only", predict_only)):
        if not isinstance(flag, bool):
            raise InvalidArgumentError(f"{name} must be a bool, got {flag!r}")
    options: dict[str, Any] = {
        "model_args": dict(model_args) if model_args is not None else None,
        "num_fewshot": num_fewshot,
        "batch_size": batch_size,
        "device": device,
        "limit": limit,
        "gen_kwargs": gen_kwargs,
        "log_samples": log_samples,
        "predict_only": predict_only,
        "num_gpus": num_gpus,
        "output_dir": output_dir,
    }
    # Only fields passed to the constructor are "set", and to_dict() sends only those.
    return EvaluateRequest(
        model=model,
        tasks=list(task_list),
        **{k: v for k, v in options.items() if v is not None},
    )


def build_merge_request(
    checkpoint_path: str, output_path: str | None, checkpoint_type: CheckpointType
) -> MergeRequest:
    """Check merge_checkpoint()'s arguments and build the request body."""
    if not isinstance(checkpoint_path, str) or not checkpoint_path:
        raise InvalidArgumentError(
            f"checkpoint_path must be a non-empty str, got {checkpoint_path!r}"
        )
    if checkpoint_type not in ("regular", "ema"):
        raise InvalidArgumentError(
            f"checkpoint_type must be 'regular' or 'ema', got {checkpoint_type!r}"
        )
    if output_path is None:
        return MergeRequest(
            checkpoint_path=checkpoint_path,
            checkpoint_type=MergeRequestCheckpointType(checkpoint_type),
        )
    return MergeRequest(
        checkpoint_path=checkpoint_path,
        output_path=output_path,
        checkpoint_type=MergeRequestCheckpointType(checkpoint_type),
    )


# ----------------------------------------------------------------------------------------
# Responses and errors
# ----------------------------------------------------------------------------------------


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _server_detail(response: httpx.Response) -> tuple[str, Any]:
    """The server's reason for an error status, and the decoded body (None if not JSON)."""
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        return body_excerpt(response.content) if response.content else "(empty body)", None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail, body
    if isinstance(detail, list):  # FastAPI's 422: [{loc, msg, type}, ...]
        parts = []
        for err in detail:
            if isinstance(err, dict):
                loc = ".".join(str(p) for p in err.get("loc", []) if p != "body")
                parts.append(f"{loc}: {err.get('msg', '')}" if loc else str(err.get("msg", "")))
        return "; ".join(parts) or body_excerpt(response.content), body
    return body_excerpt(response.content), body


def status_error(response: httpx.Response, *, job_id: str | None = None) -> APIStatusError:
    """The typed error for a 4xx/5xx response; a 404 about a job names why a job can vanish."""
    detail, body = _server_detail(response)
    request = response.request
    where = f"{request.method} {request.url.raw_path.decode('ascii', 'replace')}"
    prefix = f"{where} -> {response.status_code} {response.reason_phrase}: {detail}"
    if response.status_code == 404 and job_id is not None:
        return JobNotFoundError(
            f"{prefix}. The server has no job {job_id!r}: either it was never submitted there, "
            "or the server lost it: finished jobs are evicted beyond its max_completed_jobs "
            "(default 100) and every job is lost when the server restarts.",
            response=response,
            detail=detail,
            body=body,
            job_id=job_id,
        )
    cls = _STATUS_ERRORS.get(response.status_code)
    if cls is None:
        cls = InternalServerError if response.status_code >= 500 else APIStatusError
    return cls(prefix, response=response, detail=detail, body=body)


def unwrap(response: Response[Any], expected: type[T], *, job_id: str | None = None) -> T:
    """The parsed model of a successful response, or the typed error the response means."""
    raw = response.http_response
    logger.debug(
        "%s %s -> %s", raw.request.method, raw.request.url.raw_path.decode(), raw.status_code
    )
    if raw.is_error:
        raise status_error(raw, job_id=job_id)
    if raw.is_success and isinstance(response.parsed, expected):
        return response.parsed
    raise APIResponseValidationError(
        f"Unexpected response {raw.status_code} to {raw.request.method} {raw.request.url}: "
        f"{body_excerpt(raw.content)}",
        response=raw,
    )


def body_error(exc: UnexpectedResponseBody, *, job_id: str | None = None) -> Exception:
    """The typed error for a response whose body could not be parsed."""
    raw = exc.response
    if raw.is_error:
        return status_error(raw, job_id=job_id)
    cause = exc.__cause__
    reason = (
        "is not JSON" if isinstance(cause, json.JSONDecodeError) else "does not match the contract"
    )
    if not raw.content:
        reason = "is empty"
    message = (
        f"{raw.request.method} {raw.request.url} -> {raw.status_code}: the body {reason}: "
        f"{body_excerpt(raw.content)}"
    )
    if cause is not None and not isinstance(cause, json.JSONDecodeError):
        message += f"\n{_first_lines(str(cause), 6)}"
    return APIResponseValidationError(message, response=raw)


def _first_lines(text: str, count: int) -> str:
    lines = text.splitlines()
    return "\n".join(lines[:count] + (["..."] if len(lines) > count else []))


def transport_error(exc: httpx.TransportError) -> APIConnectionError:
    """The typed error for a failure below HTTP (connect, read, write, timeout, protocol)."""
    try:
        request: httpx.Request | None = exc.request
    except RuntimeError:  # raised by httpx when no request was attached
        request = None
    where = f" {request.method} {request.url}" if request is not None else ""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"Request{where} timed out ({type(exc).__name__}): raise the client's timeout "
            "if the server is slow, or check that it is alive",
            request=request,
        )
    return APIConnectionError(
        f"Could not talk to the lmms-eval server{where}: {type(exc).__name__}: {exc}. "
        "Is the server running at that address?",
        request=request,
    )


@contextmanager
def translated_errors(*, job_id: str | None = None) -> Iterator[None]:
    """Turn what the transport or the generated parser raises into this client's errors."""
    try:
        yield
    except UnexpectedResponseBody as exc:
        raise body_error(exc, job_id=job_id) from exc
    except httpx.TransportError as exc:
        raise transport_error(exc) from exc


def listing_or_raise(items: list[str], error: str | None, what: str) -> list[str]:
    """The list of a /tasks or /models answer, unless the server reported an error instead."""
    if error:
        raise DiscoveryError(f"The server could not list its {what}: {error}", server_message=error)
    return items


# ----------------------------------------------------------------------------------------
# Waiting for a job
# ----------------------------------------------------------------------------------------


def process_job_status(job: JobInfo) -> JobInfo | None:
    """What a polled status means: the job if completed, None to keep waiting, else raise.

    Failed raises JobFailedError, cancelled raises JobCancelledError. Any other status,
    including one this client does not know yet, means the job is still in progress.
    """
    if job.status == JobStatus.COMPLETED:
        return job
    if job.status == JobStatus.FAILED:
        raise JobFailedError(
            f"Job {job.job_id} failed: {job.error or 'the server gave no error text'}", job=job
        )
    if job.status == JobStatus.CANCELLED:
        raise JobCancelledError(f"Job {job.job_id} was cancelled", job=job)
    return None


def check_wait_args(poll_interval: float, timeout: float | None) -> None:
    """Reject wait_for_job arguments that would spin or never make sense."""
    if (
        isinstance(poll_interval, bool)
        or not isinstance(poll_interval, (int, float))
        or not math.isfinite(poll_interval)
        or poll_interval <= 0
    ):
        raise InvalidArgumentError(
            f"poll_interval must be a number of seconds > 0, got {poll_interval!r}"
        )
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0
    ):
        raise InvalidArgumentError(
            f"timeout must be a number of seconds >= 0 (or None to wait forever), got {timeout!r}"
        )


class JobWaiter:
    """The state of one wait_for_job: deadline, progress printing, next sleep.

    ``clock`` is a monotonic clock, replaceable in tests.
    """

    def __init__(
        self,
        job_id: str,
        poll_interval: float,
        timeout: float | None,
        verbose: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = check_job_id(job_id)
        check_wait_args(poll_interval, timeout)
        self._poll_interval = float(poll_interval)
        self._clock = clock
        self._deadline = None if timeout is None else clock() + timeout
        self._timeout = timeout
        self._verbose = verbose
        self._shown: tuple[str, int | None] | None = None
        self._last: JobInfo | None = None

    def observe(self, job: JobInfo) -> JobInfo | None:
        """Record a polled job; the job when completed, None to go on; raises on failure."""
        self._last = job
        if self._verbose:
            self._show(job)
        return process_job_status(job)

    def _show(self, job: JobInfo) -> None:
        status = str(job.status)
        position = job.position_in_queue if job.status == JobStatus.QUEUED else None
        if (status, position) == self._shown:
            return
        self._shown = (status, position)
        label = f"Job {job.job_id[:8]}..."
        if job.status == JobStatus.QUEUED:
            shown = "?" if position is None else position
            print(f"{label} queued (position: {shown})", file=sys.stdout, flush=True)
        elif job.status == JobStatus.COMPLETED:
            print(f"{label} completed!", file=sys.stdout, flush=True)
        else:
            print(f"{label} {status}", file=sys.stdout, flush=True)

    def next_delay(self) -> float:
        """Seconds to sleep before the next poll: min(poll_interval, time left).

        Raises WaitTimeoutError, carrying the last job seen, once the deadline has passed.
        """
        if self._deadline is None:
            return self._poll_interval
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            assert self._last is not None, "next_delay() is called after observe()"
            raise WaitTimeoutError(
                f"Job {self.job_id} did not finish within {self._timeout:g} s "
                f"(last status: {self._last.status}). It goes on on the server: "
                "wait again, or cancel it.",
                job=self._last,
            )
        return min(self._poll_interval, remaining)
