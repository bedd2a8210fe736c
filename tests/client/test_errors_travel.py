"""Errors travel: pickle, deepcopy and process pools keep them whole, and carry no secret.

Issue 9, items 3 and 4: every error failed pickle.loads (keyword-only __init__ arguments)
or pickle.dumps (classes made per httpx cause), and a pickled JobNotFoundError carried the
Bearer key in .response.request.headers.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import pytest
import respx

from lmms_eval_client import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DiscoveryError,
    InternalServerError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    LmmsEvalError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeoutError,
)

from .._errors import documented_type
from ..support import BASE, JOB_ID, Caller, FakeClock, job_json

SECRET = "sk-live-TOPSECRET-0123"
FAILED_ERROR = (
    "Evaluation failed with return code 1. Last lines of /srv/eval.log:\n"
    "\x1b[32m2026-12-01\x1b[0m | INFO | lmms_eval:main:1 - starting\n"
    "Traceback (most recent call last):\n"
    '  File "x.py", line 1, in <module>\n'
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
)

# How each error is provoked: (route setup, the call), and the attributes that must survive.
Provoke = Callable[[respx.MockRouter, Caller], Any]


def _status(code: int, body: Any) -> Provoke:
    def provoke(mock: respx.MockRouter, caller: Caller) -> Any:
        mock.get(f"/jobs/{JOB_ID}").respond(code, json=body)
        return caller.get_job(JOB_ID)

    return provoke


def _transport(exc: Exception) -> Provoke:
    def provoke(mock: respx.MockRouter, caller: Caller) -> Any:
        mock.get("/queue").mock(side_effect=exc)
        return caller.get_queue_status()

    return provoke


def _waited(status: str, **fields: Any) -> Provoke:
    def provoke(mock: respx.MockRouter, caller: Caller) -> Any:
        mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json(status, **fields))
        return caller.wait_for_job(JOB_ID, poll_interval=1, timeout=0, verbose=False)

    return provoke


def _tasks_error(mock: respx.MockRouter, caller: Caller) -> Any:
    mock.get("/tasks").respond(200, json={"tasks": [], "error": "No module named 'yaml'"})
    return caller.list_tasks()


def _bad_body(mock: respx.MockRouter, caller: Caller) -> Any:
    mock.get("/health").respond(200, content=b"<html>proxy</html>")
    return caller.health()


CASES: dict[str, tuple[Provoke, type[LmmsEvalError], tuple[str, ...]]] = {
    "400": (_status(400, {"detail": "Cannot cancel"}), BadRequestError, ("status_code", "detail")),
    "401": (_status(401, {"detail": "no"}), AuthenticationError, ("status_code", "detail")),
    "403": (_status(403, {"detail": "no"}), PermissionDeniedError, ("status_code", "body")),
    "404": (_status(404, {"detail": "gone"}), JobNotFoundError, ("status_code", "job_id")),
    "422": (
        _status(422, {"detail": [{"loc": ["body", "tasks"], "msg": "bad", "type": "x"}]}),
        UnprocessableEntityError,
        ("status_code", "errors"),
    ),
    "429": (_status(429, {"detail": "slow down"}), RateLimitError, ("status_code",)),
    "500": (_status(500, {"detail": "boom"}), InternalServerError, ("status_code", "detail")),
    "connect": (
        _transport(httpx.ConnectError("refused")),
        APIConnectionError,
        ("may_have_been_sent",),
    ),
    "timeout": (
        _transport(httpx.ReadTimeout("slow")),
        APITimeoutError,
        ("may_have_been_sent",),
    ),
    "failed": (_waited("failed", error=FAILED_ERROR), JobFailedError, ("job", "error", "reason")),
    "cancelled": (_waited("cancelled"), JobCancelledError, ("job", "job_id")),
    "wait-timeout": (_waited("running"), WaitTimeoutError, ("job", "job_id")),
    "discovery": (_tasks_error, DiscoveryError, ("server_message",)),
    "bad-body": (_bad_body, APIResponseValidationError, ("status_code",)),
}


@pytest.fixture
def secret_caller(make_caller: Callable[..., Caller], mock: respx.MockRouter) -> Caller:
    return make_caller(BASE, api_key=SECRET, max_retries=0)


async def _raised(provoke: Provoke, mock: respx.MockRouter, caller: Caller) -> LmmsEvalError:
    with pytest.raises(LmmsEvalError) as info:
        await provoke(mock, caller)
    return info.value


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("roundtrip", ["pickle", "deepcopy"])
async def test_every_error_round_trips_whole(
    case: str, roundtrip: str, secret_caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    provoke, cls, attributes = CASES[case]
    exc = await _raised(provoke, mock, secret_caller)
    assert documented_type(exc) is cls
    back = pickle.loads(pickle.dumps(exc)) if roundtrip == "pickle" else copy.deepcopy(exc)
    assert type(back) is type(exc)  # the httpx pairing included (except httpx.ConnectError)
    assert str(back) == str(exc)
    for name in attributes:
        assert getattr(back, name) == getattr(exc, name), name


@pytest.mark.parametrize("case", CASES)
async def test_no_error_carries_the_api_key(
    case: str, secret_caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    provoke, _, _ = CASES[case]
    exc = await _raised(provoke, mock, secret_caller)
    assert SECRET.encode() not in pickle.dumps(exc)
    assert SECRET not in str(exc) and SECRET not in repr(exc)
    request = getattr(exc, "_request", None) or getattr(
        getattr(exc, "response", None), "request", None
    )
    if request is not None:  # what it carries of the request is redacted, the rest intact
        assert request.headers["authorization"] == "<redacted>"
        assert request.url.host == "lmms.test"


def test_a_connection_error_is_still_its_httpx_class_after_pickling() -> None:
    from lmms_eval_client._http.responses import transport_error

    request = httpx.Request("GET", f"{BASE}/health")
    exc = transport_error(httpx.ConnectTimeout("slow", request=request))
    back = pickle.loads(pickle.dumps(exc))
    assert isinstance(back, httpx.ConnectTimeout) and isinstance(back, APITimeoutError)
    assert back.may_have_been_sent is False


def _fail_in_worker() -> None:
    from lmms_eval_client import JobInfo
    from lmms_eval_client._client.wait import process_job_status

    job = JobInfo.model_validate(job_json("failed", error=FAILED_ERROR))
    process_job_status(job)


def test_a_failed_job_reaches_the_parent_of_a_process_pool() -> None:
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_fail_in_worker)
        with pytest.raises(JobFailedError) as info:
            future.result(timeout=60)
    assert info.value.reason == (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    )
    assert info.value.job.job_id == JOB_ID
