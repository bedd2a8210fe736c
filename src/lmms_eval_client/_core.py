"""Everything EvalClient and AsyncEvalClient share that does no I/O.

Configuration, argument checks, request bodies, response interpretation, error mapping
and the decisions of ``wait_for_job``. The two client classes only send and sleep.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from lmms_eval_api.errors import UnexpectedResponseBody
from lmms_eval_api.models import (
    CancelResponse,
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
    ClientClosedError,
    DiscoveryError,
    InternalServerError,
    InvalidArgumentError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    LmmsEvalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeoutError,
    body_excerpt,
    with_httpx_class,
)
from ._retry import Idempotency, RetryPolicy, may_have_been_sent
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
# httpx's own default pool size, but every connection may stay alive: many concurrent waits
# otherwise keep closing and reopening connections (20 kept alive is httpx's default).
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
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
    headers: httpx.Headers
    http2: bool
    limits: httpx.Limits
    auth: httpx.BasicAuth | None


_USERINFO = re.compile(r"//[^@]*@")


def _without_userinfo(text: str) -> str:
    """A URL as text with any user:password replaced, for messages."""
    return _USERINFO.sub("//***@", text)


def resolve_base_url(base_url: str | None) -> tuple[str, httpx.BasicAuth | None]:
    """The base URL from the argument, else $LMMS_EVAL_BASE_URL, else localhost:8000; checked.

    A ``user:password@`` in it becomes HTTP basic auth, so that the password is not part
    of any URL that httpx or this client logs or shows.
    """
    url = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(url, str):
        raise InvalidArgumentError(f"base_url must be a str, got {type(url).__name__}")
    shown = _without_userinfo(url)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, UnicodeError) as exc:
        raise InvalidArgumentError(f"base_url {shown!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgumentError(
            f"base_url {shown!r} must be an absolute http(s) URL with a host, "
            "e.g. 'http://localhost:8000'"
        )
    if b"?" in parsed.raw_path or parsed.fragment or "#" in url:
        # Paths are appended to the base URL: a query or fragment would swallow them.
        raise InvalidArgumentError(
            f"base_url {shown!r} must not have a query or fragment; "
            "send extra parameters as headers instead"
        )
    auth = None
    if parsed.userinfo:
        auth = httpx.BasicAuth(parsed.username, parsed.password)
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed).rstrip("/"), auth


def _is_header_text(value: str) -> bool:
    """Printable ASCII without control characters: what an HTTP header value can carry."""
    return value.isascii() and all(32 <= ord(ch) < 127 for ch in value)


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Extra headers as a dict, each name and value one a request can carry."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidArgumentError(f"headers must be a mapping, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name or not _is_header_text(name) or " " in name:
            raise InvalidArgumentError(f"header name {name!r} is not a valid HTTP header name")
        if not isinstance(value, str) or not _is_header_text(value):
            secret = name.lower() in _SECRET_HEADERS
            shown = REDACTED if secret else repr(value)
            raise InvalidArgumentError(
                f"header {name!r}: value {shown} must be a str of printable ASCII characters"
            )
        checked[name] = value
    return checked


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
    if isinstance(timeout, (int, float)) and not (math.isfinite(timeout) and timeout > 0):
        raise InvalidArgumentError(
            f"timeout must be a finite number of seconds > 0 (or None for none), got {timeout}"
        )
    merged = httpx.Headers({"User-Agent": USER_AGENT})
    merged.update(check_headers(headers))  # case-insensitive: a given User-Agent replaces ours
    key = api_key
    if key is None and "authorization" not in merged:
        key = os.environ.get(API_KEY_ENV)  # an explicit Authorization header wins over it
    if key is not None and not isinstance(key, str):
        raise InvalidArgumentError(f"api_key must be a str, got {type(key).__name__}")
    if key:
        if not _is_header_text(key):
            # Never echo the key itself.
            raise InvalidArgumentError(
                "api_key must be printable ASCII (no spaces, line breaks or control characters)"
            )
        merged["Authorization"] = f"Bearer {key}"
    url, auth = resolve_base_url(base_url)
    return ClientConfig(
        base_url=url,
        auth=auth,
        timeout=httpx.Timeout(timeout),
        headers=merged,
        http2=http2,
        limits=limits if limits is not None else DEFAULT_LIMITS,
    )


def check_injected_client_type(owner: str, wanted: type[Any], client: object) -> None:
    """EvalClient needs an httpx.Client, AsyncEvalClient an httpx.AsyncClient."""
    if not isinstance(client, wanted):
        raise InvalidArgumentError(
            f"{owner} needs an httpx.{wanted.__name__} as http_client, "
            f"got {type(client).__module__}.{type(client).__name__}"
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
    current = str(client.base_url).rstrip("/")
    if current and base_url is None:
        return _without_userinfo(current)
    url, auth = resolve_base_url(base_url)
    if auth is not None:
        raise InvalidArgumentError(
            "a user:password in base_url cannot be applied to an injected http_client: "
            "give the httpx client auth= instead"
        )
    if current:
        if url != current:
            raise InvalidArgumentError(
                f"base_url {url!r} differs from the injected http_client's base_url "
                f"{_without_userinfo(current)!r}: pass one of them"
            )
        return _without_userinfo(current)
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
        "auth": config.auth,
    }


HttpClientT = TypeVar("HttpClientT", httpx.Client, httpx.AsyncClient)


def build_http_client(factory: type[HttpClientT], kwargs: dict[str, Any]) -> HttpClientT:
    """Build our httpx client; a missing optional dependency becomes an actionable error."""
    try:
        return factory(**kwargs)
    except ImportError as exc:  # http2=True without the h2 package
        raise InvalidArgumentError(
            f"{str(exc).rstrip('.')}. Install the http2 extra: "
            "pip install 'lmms-eval-client[http2]'"
        ) from exc


# ----------------------------------------------------------------------------------------
# Arguments and request bodies
# ----------------------------------------------------------------------------------------


def check_max_retries(max_retries: object) -> int:
    """max_retries must be a count: 0 disables retries."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidArgumentError(f"max_retries must be an int >= 0, got {max_retries!r}")
    return max_retries


# httpx refuses URLs over 65,536 characters; leave room for the base URL.
MAX_JOB_ID_URL_CHARS = 60_000


def check_job_id(job_id: object) -> str:
    """A job id that is safe to put in a path segment (it is percent-encoded there)."""
    if not isinstance(job_id, str):
        raise InvalidArgumentError(f"job_id must be a str, got {type(job_id).__name__}")
    if not job_id:
        raise InvalidArgumentError("job_id must not be empty")
    if job_id in (".", ".."):
        # Dot segments survive percent-encoding and would be resolved to another path.
        raise InvalidArgumentError(f"job_id {job_id!r} is not a job id")
    _check_utf8("job_id", job_id)
    if len(quote(job_id, safe="")) > MAX_JOB_ID_URL_CHARS:
        raise InvalidArgumentError(
            f"job_id is too long for a URL ({len(job_id)} characters); "
            "lmms-eval's job ids are 36-character UUIDs"
        )
    return job_id


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")


def _check_utf8(name: str, value: str) -> None:
    """Reject strings that cannot go on the wire (lone surrogates, e.g. from os.fsdecode)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"{name} is not valid text (cannot be UTF-8 encoded): {exc}"
        ) from None


def _check_str(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {value!r}")
    _check_utf8(name, value)


def _path_str(name: str, value: object) -> str | None:
    """A path option as the str the server expects (str and os.PathLike accepted)."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty str or path, got {value!r}")
    _check_utf8(name, value)
    return value


def _json_object(name: str, value: Mapping[Any, Any]) -> dict[str, Any]:
    """A mapping that strict JSON can carry: str keys, no NaN/inf, serialisable values."""
    if not all(isinstance(key, str) for key in value):
        raise InvalidArgumentError(f"{name} keys must be str, got {list(value)!r}")
    value = dict(value)
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidArgumentError(f"{name} must be JSON-serialisable: {exc}") from None
    return value


def build_evaluate_request(
    model: str,
    tasks: Sequence[str] | str,
    model_args: Mapping[str, Any] | None,
    num_fewshot: int | None,
    batch_size: int | str | None,
    device: str | None,
    limit: int | float | None,
    gen_kwargs: str | None,
    log_samples: bool | None,
    predict_only: bool | None,
    num_gpus: int | None,
    output_dir: str | os.PathLike[str] | None,
) -> EvaluateRequest:
    """Check evaluate()'s arguments and build the request body, leaving out every None option."""
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError(f"model must be a non-empty str, got {model!r}")
    _check_utf8("model", model)
    if isinstance(tasks, str):
        task_list: list[Any] = [tasks]
    elif isinstance(tasks, Sequence) and not isinstance(tasks, (bytes, bytearray)):
        task_list = list(tasks)
    else:
        raise InvalidArgumentError(
            f"tasks must be a list of task names (or one name as a str), got {type(tasks).__name__}"
        )
    if not task_list:
        raise InvalidArgumentError("tasks must name at least one task")
    for task in task_list:
        if not isinstance(task, str) or not task:
            raise InvalidArgumentError(f"every task must be a non-empty str, got {task!r}")
        _check_utf8("task", task)
    if model_args is not None and not isinstance(model_args, Mapping):
        raise InvalidArgumentError(f"model_args must be a mapping, got {type(model_args).__name__}")
    if num_fewshot is not None:
        _check_int("num_fewshot", num_fewshot, 0)
    if limit is not None and (
        isinstance(limit, bool)
        or not isinstance(limit, (int, float))
        or not math.isfinite(limit)
        or not limit > 0
    ):
        raise InvalidArgumentError(f"limit must be a finite number > 0, got {limit!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, str))
    ):
        raise InvalidArgumentError(f"batch_size must be an int or a str, got {batch_size!r}")
    _check_str("device", device)
    _check_str("gen_kwargs", gen_kwargs)
    if num_gpus is not None:
        _check_int("num_gpus", num_gpus, 1)
    for name, flag in (("log_samples", log_samples), ("predict_only", predict_only)):
        if flag is not None and not isinstance(flag, bool):
            raise InvalidArgumentError(f"{name} must be a bool, got {flag!r}")
    options: dict[str, Any] = {
        "model_args": _json_object("model_args", model_args) if model_args is not None else None,
        "num_fewshot": num_fewshot,
        "batch_size": batch_size,
        "device": device,
        "limit": limit,
        "gen_kwargs": gen_kwargs,
        "log_samples": log_samples,
        "predict_only": predict_only,
        "num_gpus": num_gpus,
        "output_dir": _path_str("output_dir", output_dir),
    }
    # Only fields passed to the constructor are "set", and to_dict() sends only those.
    return EvaluateRequest(
        model=model,
        tasks=list(task_list),
        **{k: v for k, v in options.items() if v is not None},
    )


def build_merge_request(
    checkpoint_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str] | None,
    checkpoint_type: CheckpointType,
) -> MergeRequest:
    """Check merge_checkpoint()'s arguments and build the request body."""
    checkpoint = _path_str("checkpoint_path", checkpoint_path)
    if checkpoint is None:
        raise InvalidArgumentError("checkpoint_path must be a non-empty str or path, got None")
    if checkpoint_type not in ("regular", "ema"):
        raise InvalidArgumentError(
            f"checkpoint_type must be 'regular' or 'ema', got {checkpoint_type!r}"
        )
    output = _path_str("output_path", output_path)
    kind = MergeRequestCheckpointType(checkpoint_type)
    if output is None:
        return MergeRequest(checkpoint_path=checkpoint, checkpoint_type=kind)
    return MergeRequest(checkpoint_path=checkpoint, output_path=output, checkpoint_type=kind)


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
# An error message quotes at most this much of the server's reason (the full text stays in
# the error's .detail / .body): a multi-megabyte detail must not become the message.
MAX_DETAIL_CHARS = 600
MAX_FIELD_ERRORS = 10

NO_RETRY = RetryPolicy(max_retries=0)
MAYBE_CARRIED_OUT = (
    "The request may have reached the server, so it may have been carried out: "
    "it was not retried, to never run it twice. Check get_queue_status() "
    "(queued_jobs, running_job) before submitting again."
)
# What is_healthy() reports as False: the server's fault or the network's, not the caller's.
UNHEALTHY = (APIConnectionError, APIStatusError, APIResponseValidationError)

# What one attempt of a request ended with.
Outcome = Response[Any] | httpx.RequestError | httpx.InvalidURL | UnexpectedResponseBody
# What sending can raise that becomes an Outcome. httpx.InvalidURL: a 3xx whose Location
# httpx cannot parse (it builds the next request even with redirects off).
SEND_FAILURES = (httpx.RequestError, httpx.InvalidURL, UnexpectedResponseBody)


def _where(request: httpx.Request) -> str:
    """METHOD and URL of a request, without any user:password the base URL carried."""
    url = request.url
    if url.userinfo:
        url = url.copy_with(username=None, password=None)
    return f"{request.method} {url}"


def _clip_middle(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """Keep the start and the end of a long text (a log tail: where and why it failed)."""
    if len(text) <= limit:
        return text
    head, tail = limit // 3, limit - limit // 3
    return f"{text[:head]}\n... ({len(text) - limit} characters left out) ...\n{text[-tail:]}"


def _clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _server_detail(response: httpx.Response) -> tuple[str, str, Any]:
    """The server's reason for an error status (full, and short enough for a message),
    and the decoded body (None if not JSON)."""
    try:
        body = json.loads(response.content) if response.content else None
    except (ValueError, RecursionError):  # RecursionError: absurdly deep JSON
        excerpt = body_excerpt(response.content) if response.content else "(empty body)"
        return excerpt, excerpt, None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail, _clip(detail), body
    if isinstance(detail, list):  # FastAPI's 422: [{loc, msg, type}, ...]
        parts = []
        for err in detail:
            if isinstance(err, dict):
                raw_loc = err.get("loc")
                loc_parts = raw_loc if isinstance(raw_loc, list) else []
                loc = ".".join(str(p) for p in loc_parts if p != "body")
                parts.append(f"{loc}: {err.get('msg', '')}" if loc else str(err.get("msg", "")))
        if parts:
            shown = "; ".join(parts[:MAX_FIELD_ERRORS])
            if len(parts) > MAX_FIELD_ERRORS:
                shown += f"; ... ({len(parts) - MAX_FIELD_ERRORS} more)"
            return "; ".join(parts), _clip(shown), body
    excerpt = body_excerpt(response.content)
    return excerpt, excerpt, body


def status_error(
    response: httpx.Response, *, job_id: str | None = None, note: str = ""
) -> APIStatusError:
    """The typed error for a non-2xx response; a 404 about a job names why a job can vanish."""
    detail, shown, body = _server_detail(response)
    request = response.request
    where = f"{request.method} {request.url.raw_path.decode('ascii', 'replace')}"
    prefix = f"{where} -> {response.status_code} {response.reason_phrase}: {shown}{note}"
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
    if response.is_redirect:
        location = response.headers.get("location", "?")
        prefix += f". The server redirects to {location}: point base_url there."
    cls = _STATUS_ERRORS.get(response.status_code)
    if cls is None:
        cls = InternalServerError if response.status_code >= 500 else APIStatusError
    return cls(prefix, response=response, detail=detail, body=body)


def body_error(exc: UnexpectedResponseBody, *, job_id: str | None = None) -> LmmsEvalError:
    """The typed error for a response whose body could not be parsed."""
    raw = exc.response
    if not raw.is_success:
        return status_error(raw, job_id=job_id)
    cause = exc.__cause__
    reason = (
        "is not JSON" if isinstance(cause, json.JSONDecodeError) else "does not match the contract"
    )
    if not raw.content:
        reason = "is empty"
    message = (
        f"{_where(raw.request)} -> {raw.status_code}: the body {reason}: "
        f"{body_excerpt(raw.content)}"
    )
    if cause is not None and not isinstance(cause, json.JSONDecodeError):
        message += f"\n{_first_lines(str(cause), 6)}"
    return APIResponseValidationError(message, response=raw)


def _first_lines(text: str, count: int) -> str:
    lines = [_clip(line, 200) for line in text.splitlines()]
    return "\n".join(lines[:count] + (["..."] if len(lines) > count else []))


def transport_error(
    exc: httpx.RequestError, idempotency: Idempotency = Idempotency.SAFE
) -> APIConnectionError:
    """The typed error for a failure below HTTP (connect, read, write, timeout, protocol)."""
    try:
        request: httpx.Request | None = exc.request
    except RuntimeError:  # raised by httpx when no request was attached
        request = None
    where = f" {_where(request)}" if request is not None else ""
    sent = not isinstance(exc, httpx.TransportError) or may_have_been_sent(exc)
    if idempotency is Idempotency.UNSAFE and sent:
        hint = f" {MAYBE_CARRIED_OUT}"
    elif isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        hint = " Is the server running at that address?"
    else:
        hint = ""
    if isinstance(exc, httpx.TimeoutException):
        return with_httpx_class(APITimeoutError, type(exc))(
            f"Request{where} timed out ({type(exc).__name__}); raise the client's timeout "
            f"if the server is slow.{hint}",
            request=request,
            may_have_been_sent=sent,
        )
    return with_httpx_class(APIConnectionError, type(exc))(
        f"Could not talk to the lmms-eval server{where}: "
        f"{type(exc).__name__}: {str(exc).rstrip('.')}.{hint}",
        request=request,
        may_have_been_sent=sent,
    )


def check_open(closed: bool, client: httpx.Client | httpx.AsyncClient) -> None:
    """Refuse to send after close() (ours, or the httpx client's) with our error."""
    if closed or client.is_closed:
        raise ClientClosedError("This client has been closed; create a new one to send requests")


def _status_of(outcome: Outcome) -> httpx.Response | None:
    if isinstance(outcome, Response):
        return outcome.http_response
    if isinstance(outcome, UnexpectedResponseBody):
        return outcome.response
    return None


def retry_delay(
    policy: RetryPolicy, idempotency: Idempotency, outcome: Outcome, retries_done: int
) -> float | None:
    """Seconds to wait before sending again after this outcome, or None to stop here."""
    response = _status_of(outcome)
    if response is not None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s -> %s", _where(response.request), response.status_code)
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
        logger.debug("%s failed: %s", _where(request) if request else "request", what)
    if delay is not None:
        logger.info(
            "%s failed (%s); retry %d of %d in %.2f s",
            _where(request) if request is not None else "request",
            what,
            retries_done + 1,
            policy.max_retries,
            delay,
        )
    return delay


def within_deadline(delay: float | None, deadline: float | None, now: float) -> float | None:
    """A retry delay cut to what is left before a deadline; None when no time is left."""
    if delay is None or deadline is None:
        return delay
    remaining = deadline - now
    return min(delay, remaining) if remaining > 0 else None


def result_of(
    outcome: Outcome,
    expected: type[T],
    *,
    job_id: str | None = None,
    idempotency: Idempotency = Idempotency.SAFE,
) -> T:
    """The parsed model of the final outcome, or the typed error it means."""
    if isinstance(outcome, UnexpectedResponseBody):
        raise body_error(outcome, job_id=job_id) from outcome
    if isinstance(outcome, httpx.RequestError):
        raise transport_error(outcome, idempotency) from outcome
    if isinstance(outcome, httpx.InvalidURL):
        raise APIConnectionError(
            f"The server's answer could not be processed: it redirects to an invalid URL "
            f"({outcome}). Check base_url.",
            may_have_been_sent=True,
        ) from outcome
    raw = outcome.http_response
    if not raw.is_success:
        note = ""
        if idempotency is Idempotency.UNSAFE and raw.status_code in (502, 504):
            # A gateway that failed or timed out may have passed the request on.
            note = f". {MAYBE_CARRIED_OUT}"
        raise status_error(raw, job_id=job_id, note=note)
    if isinstance(outcome.parsed, expected):
        return outcome.parsed
    raise APIResponseValidationError(
        f"Unexpected response {raw.status_code} to {_where(raw.request)}: "
        f"{body_excerpt(raw.content)}",
        response=raw,
    )


def cancelled_by_earlier_attempt(job: JobInfo) -> CancelResponse | None:
    """After a retried cancel was told "already finished or cancelled": the cancel's answer
    if the job is in fact cancelled (an earlier attempt did it), else None."""
    if job.status != JobStatus.CANCELLED:
        return None
    logger.info("Job %s is cancelled: an earlier attempt of the retried cancel did it", job.job_id)
    return CancelResponse(message=f"Job {job.job_id} cancelled")


def listing_or_raise(items: list[str], error: str | None, what: str) -> list[str]:
    """The list of a /tasks or /models answer, unless the server reported an error instead."""
    if error is not None:
        reason = error or "(the server gave no reason)"
        raise DiscoveryError(
            f"The server could not list its {what}: {_clip(reason)}", server_message=error
        )
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
        # "Job failed: ..." as lmms-eval's client words it; the full text stays on .error.
        raise JobFailedError(
            f"Job failed: {_clip_middle(job.error or 'the server gave no error text')}\n"
            f"(job {job.job_id})",
            job=job,
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
        self.deadline = None if timeout is None else clock() + timeout
        """The monotonic time the wait ends at (None: never); polls retry only until then."""
        self._timeout = timeout
        self._verbose = verbose
        self._shown: tuple[str, int | None] | None = None
        self._last: JobInfo | None = None
        self._setback: LmmsEvalError | None = None

    def observe(self, job: JobInfo) -> JobInfo | None:
        """Record a polled job; the job when completed, None to go on; raises on failure."""
        self._last = job
        self._setback = None
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

    def setback(self, error: LmmsEvalError) -> None:
        """Record a failed poll: log it and go on if it is transient, else raise it.

        A wait outlives server restarts and proxy hiccups (connection refused, 502/503/504,
        429, timeouts) until its own deadline. Without a deadline it does so only once the
        server has answered a poll. A 404 is not transient: the server lost the job
        (JobNotFoundError says how), and waiting longer cannot bring it back.
        """
        if not is_transient(error):
            raise error
        if self.deadline is None and self._last is None:
            # Waiting forever on a server that never answered once (a wrong base_url, a
            # server that is down) would hang the caller: only a bounded wait rides it out.
            raise error
        self._setback = error
        logger.warning("Waiting for job %s: poll failed, will retry: %s", self.job_id, error)

    def next_delay(self) -> float:
        """Seconds to sleep before the next poll: min(poll_interval, time left).

        Raises WaitTimeoutError, carrying the last job seen, once the deadline has passed.
        """
        if self.deadline is None:
            return self._poll_interval
        remaining = self.deadline - self._clock()
        if remaining <= 0:
            last = f"last status: {self._last.status}" if self._last else "no poll succeeded"
            if self._setback is not None:
                last += f"; last poll failed: {self._setback}"
            raise WaitTimeoutError(
                f"Job {self.job_id} did not finish within {self._timeout:g} s ({last}). "
                "It goes on on the server: wait again, or cancel it.",
                job=self._last,
                job_id=self.job_id,
            ) from self._setback
        return min(self._poll_interval, remaining)


def is_transient(error: LmmsEvalError) -> bool:
    """Whether a failed request may well succeed if simply tried again later."""
    if isinstance(error, (APIConnectionError, RateLimitError)):
        return True
    return isinstance(error, InternalServerError) and error.status_code in (502, 503, 504)
