"""What a request's final outcome means: the parsed model, or the typed error.

Maps statuses to the error tree, quotes the server's reason (clipped), tells a transport
failure that may have reached the server from one that certainly did not, and adds the
"job may exist" warning where a lost answer may hide a submitted job.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from lmms_eval_api.errors import UnexpectedResponseBody

from .._checks import job_id_problem
from .._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    DiscoveryError,
    InternalServerError,
    JobNotFoundError,
    LmmsEvalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    with_httpx_class,
)
from .._log import logger
from .._text import SecretMask, body_excerpt, clip, first_lines, where
from .operations import Operation
from .retry import GATEWAY_STATUSES, Outcome, may_have_been_sent

if TYPE_CHECKING:
    from lmms_eval_api.models import CancelResponse, JobInfo

T = TypeVar("T")

_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}
MAX_FIELD_ERRORS = 10

# What is_healthy() reports as False: the server's fault or the network's, not the caller's.
UNHEALTHY = (APIConnectionError, APIStatusError, APIResponseValidationError)


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
        return detail, clip(detail), body
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
            return "; ".join(parts), clip(shown), body
    excerpt = body_excerpt(response.content)
    return excerpt, excerpt, body


def status_error(
    response: httpx.Response, *, job_id: str | None = None, note: str = ""
) -> APIStatusError:
    """The typed error for a non-2xx response; a 404 about a job names why a job can vanish."""
    response = SecretMask.of(response.request).response(response)  # masked, then cut
    detail, shown, body = _server_detail(response)
    request = response.request
    target = f"{request.method} {request.url.raw_path.decode('ascii', 'replace')}"
    prefix = f"{target} -> {response.status_code} {response.reason_phrase}: {shown}{note}"
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


def body_error(
    exc: UnexpectedResponseBody, *, job_id: str | None = None, note: str = ""
) -> LmmsEvalError:
    """The typed error for a response whose body could not be parsed."""
    raw = exc.response
    if not raw.is_success:
        return status_error(raw, job_id=job_id)
    # Masked before its excerpt is cut: a key cut in two would no longer be found.
    raw = SecretMask.of(raw.request).response(raw)
    cause = exc.__cause__
    reason = (
        "is not JSON" if isinstance(cause, json.JSONDecodeError) else "does not match the contract"
    )
    if not raw.content:
        reason = "is empty"
    message = (
        f"{where(raw.request)} -> {raw.status_code}: the body {reason}: {body_excerpt(raw.content)}"
    )
    if cause is not None and not isinstance(cause, json.JSONDecodeError):
        message += f"\n{_mismatch(cause)}"
    return APIResponseValidationError(message + note, response=raw)


_SHOWN_MISMATCHES = 50  # beyond this, the count alone (their text costs ~170 bytes each)


def _mismatch(cause: BaseException) -> str:
    """What did not match, in a few lines. A body of a million wrong items is a million
    errors: pydantic's text of them all would be ~170 bytes each, built to show six lines
    (an adversarial server's 3 MB answer cost 400 MB and a second), so only their count."""
    count = getattr(cause, "error_count", None)
    if callable(count) and count() > _SHOWN_MISMATCHES:
        return f"{count()} values do not match it (the first ones are in the body above)"
    # pydantic's "For further information visit https://errors.pydantic.dev/..." lines
    # say nothing about this body: the six lines shown are the mismatches.
    said = "\n".join(
        line for line in str(cause).splitlines() if not line.lstrip().startswith("For further")
    )
    return first_lines(said, 6)


def transport_error(exc: httpx.RequestError, maybe_done: str = "") -> APIConnectionError:
    """The typed error for a failure below HTTP (connect, read, write, timeout, protocol).

    ``maybe_done``: what to check if the request may have reached the server (for an
    operation that must not run twice), else empty.
    """
    try:
        request: httpx.Request | None = exc.request
    except RuntimeError:  # raised by httpx when no request was attached
        request = None
    location = f" {where(request)}" if request is not None else ""
    sent = not isinstance(exc, httpx.TransportError) or may_have_been_sent(exc)
    if maybe_done and sent:
        hint = f" {maybe_done}"
    elif isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        hint = " Is the server running at that address?"
    else:
        hint = ""
    if isinstance(exc, httpx.TimeoutException):
        return with_httpx_class(APITimeoutError, type(exc))(
            f"Request{location} timed out ({type(exc).__name__}); if the server is slow, pass "
            f"a longer timeout= to this call or raise the client's timeout.{hint}",
            request=request,
            may_have_been_sent=sent,
        )
    return with_httpx_class(APIConnectionError, type(exc))(
        f"Could not talk to the lmms-eval server{location}: "
        f"{type(exc).__name__}: {str(exc).rstrip('.')}.{hint}",
        request=request,
        may_have_been_sent=sent,
    )


def check_open(closed: bool, client: httpx.Client | httpx.AsyncClient) -> None:
    """Refuse to send after close() (ours, or the httpx client's) with our error."""
    if closed or client.is_closed:
        raise ClientClosedError("This client has been closed; create a new one to send requests")


def result_of(
    outcome: Outcome,
    op: Operation[T],
    *,
    job_id: str | None = None,
) -> T:
    """The parsed model of the final outcome, or the typed error it means."""
    # A 2xx the client cannot read may still mean that a submission was carried out.
    maybe_done = f"\n{op.maybe_done}" if op.maybe_done else ""
    if isinstance(outcome, UnexpectedResponseBody) and outcome.response.is_success:
        raise body_error(outcome, job_id=job_id, note=maybe_done) from outcome
    if isinstance(outcome, httpx.RequestError):
        raise transport_error(outcome, op.maybe_done) from outcome
    if isinstance(outcome, httpx.InvalidURL):
        raise APIConnectionError(
            f"The server's answer could not be processed: it redirects to an invalid URL "
            f"({outcome}). Check base_url.",
            may_have_been_sent=True,
        ) from outcome
    raw = outcome.response if isinstance(outcome, UnexpectedResponseBody) else outcome.http_response
    if not raw.is_success:
        note = ""
        if op.maybe_done and raw.status_code in GATEWAY_STATUSES:
            # A gateway that failed or timed out may have passed the request on.
            note = f". {op.maybe_done}"
        raise status_error(raw, job_id=job_id, note=note)
    parsed = None if isinstance(outcome, UnexpectedResponseBody) else outcome.parsed
    if isinstance(parsed, op.response):
        from lmms_eval_api.models import JobInfo, JobSubmitResponse  # (loaded: `parsed` is one)

        if isinstance(parsed, JobInfo) and job_id is not None and parsed.job_id != job_id:
            raise APIResponseValidationError(
                f"{where(raw.request)} -> {raw.status_code}: the server answered about job "
                f"{clip(parsed.job_id, 80)!r}, not {job_id!r}: is base_url the lmms-eval "
                "server (not a proxy or cache that mixes up paths)?",
                response=raw,
            )
        new_id = parsed.job_id if isinstance(parsed, JobSubmitResponse) else None
        problem = "" if new_id is None else job_id_problem(new_id)
        if problem:
            # The new job could never be asked about, waited for or cancelled (nor recorded).
            raise APIResponseValidationError(
                f"{where(raw.request)} -> {raw.status_code}: the server's answer names job "
                f"{clip(str(new_id), 80)!r}, which no request can name: {problem}{maybe_done}",
                response=raw,
            )
        return parsed
    raise APIResponseValidationError(
        f"Unexpected response {raw.status_code} to {where(raw.request)}: "
        f"{body_excerpt(raw.content)}{maybe_done}",
        response=raw,
    )


def cancelled_by_earlier_attempt(job: JobInfo) -> CancelResponse | None:
    """After a retried cancel was told "already finished or cancelled": the cancel's answer
    if the job is in fact cancelled (an earlier attempt did it), else None."""
    from lmms_eval_api.models import CancelResponse, JobStatus  # loaded: `job` is a model

    if job.status != JobStatus.CANCELLED:
        return None
    logger.info("Job %s is cancelled: an earlier attempt of the retried cancel did it", job.job_id)
    return CancelResponse(message=f"Job {job.job_id} cancelled")


def listing_or_raise(items: list[str], error: str | None, what: str) -> list[str]:
    """The list of a /tasks or /models answer, unless the server reported an error instead."""
    if error is not None:
        reason = error or "(the server gave no reason)"
        raise DiscoveryError(
            f"The server could not list its {what}: {clip(reason)}", server_message=error
        )
    return items
