"""Error mapping: statuses, bodies that are not what the contract says, transport failures."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pydantic
import pytest
import respx

from lmms_eval_client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    JobNotFoundError,
    LmmsEvalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

from .._errors import documented_type
from ..support import JOB_ID, MINIMAL_REQUESTS, Caller

pytestmark = MINIMAL_REQUESTS

# (method, args, http method, path): one row per endpoint
CALLS: dict[str, tuple[str, tuple[Any, ...], str, str]] = {
    "health": ("health", (), "GET", "/health"),
    "tasks": ("list_tasks", (), "GET", "/tasks"),
    "models": ("list_models", (), "GET", "/models"),
    "queue": ("get_queue_status", (), "GET", "/queue"),
    "evaluate": ("evaluate", ("m", ["t"]), "POST", "/evaluate"),
    "merge": ("merge_checkpoint", ("/ck",), "POST", "/merge"),
    "get_job": ("get_job", (JOB_ID,), "GET", f"/jobs/{JOB_ID}"),
    "cancel_job": ("cancel_job", (JOB_ID,), "DELETE", f"/jobs/{JOB_ID}"),
}

FASTAPI_422 = {
    "detail": [
        {"type": "missing", "loc": ["body", "tasks"], "msg": "Field required", "input": {}},
        {
            "type": "string_type",
            "loc": ["body", "model"],
            "msg": "Input should be a valid string",
            "input": 5,
        },
    ]
}


async def call(caller: Caller, mock: respx.MockRouter, name: str, **respond: Any) -> Any:
    method, args, http_method, path = CALLS[name]
    mock.route(method=http_method, path=path).respond(**respond)
    return await getattr(caller, method)(*args)


STATUS_CASES = [
    ("cancel_job", 400, "Cannot cancel a running job", BadRequestError),
    ("get_job", 404, "Job not found", JobNotFoundError),
    ("cancel_job", 404, "Job not found", JobNotFoundError),
    ("merge", 404, "Checkpoint path not found: /ck", NotFoundError),
    ("health", 404, "Not Found", NotFoundError),
    ("merge", 500, "Merge failed: disk full", InternalServerError),
    ("queue", 503, "Service Unavailable", InternalServerError),
    ("health", 401, "Unauthorized", AuthenticationError),
    ("tasks", 403, "Forbidden", PermissionDeniedError),
    ("models", 429, "Too Many Requests", RateLimitError),
    ("evaluate", 418, "I'm a teapot", APIStatusError),
]


@pytest.mark.parametrize(
    ("name", "status", "detail", "cls"), STATUS_CASES, ids=[f"{c[0]}-{c[1]}" for c in STATUS_CASES]
)
async def test_status_errors(
    caller: Caller, mock: respx.MockRouter, name: str, status: int, detail: str, cls: type
) -> None:
    with pytest.raises(cls) as info:
        await call(caller, mock, name, status_code=status, json={"detail": detail})
    exc = info.value
    assert documented_type(exc) is cls  # not a broader or narrower class than the status means
    assert isinstance(exc, httpx.HTTPStatusError)
    # the message starts with what was asked and what came back
    assert str(exc).startswith(f"{CALLS[name][2]} {CALLS[name][3]} -> {status} ")
    assert exc.status_code == status
    assert isinstance(exc.response, httpx.Response)
    assert exc.response.status_code == status
    assert exc.request.url.path == CALLS[name][3]
    assert exc.detail == detail
    assert detail in str(exc)
    assert str(status) in str(exc)
    assert exc.body == {"detail": detail}


@pytest.mark.parametrize("name", ["get_job", "cancel_job"])
async def test_job_not_found_names_the_job_and_why(
    caller: Caller, mock: respx.MockRouter, name: str
) -> None:
    with pytest.raises(JobNotFoundError) as info:
        await call(caller, mock, name, status_code=404, json={"detail": "Job not found"})
    assert info.value.job_id == JOB_ID
    assert JOB_ID in str(info.value)
    assert "max_completed_jobs" in str(info.value)


async def test_422_carries_field_errors(caller: Caller, mock: respx.MockRouter) -> None:
    with pytest.raises(UnprocessableEntityError) as info:
        await call(caller, mock, "evaluate", status_code=422, json=FASTAPI_422)
    exc = info.value
    assert isinstance(exc, httpx.HTTPStatusError)
    assert exc.status_code == 422
    assert [e["loc"] for e in exc.errors] == [["body", "tasks"], ["body", "model"]]
    message = str(exc)
    assert "tasks: Field required" in message
    assert "model: Input should be a valid string" in message


async def test_422_with_a_string_detail(caller: Caller, mock: respx.MockRouter) -> None:
    with pytest.raises(UnprocessableEntityError) as info:
        await call(caller, mock, "evaluate", status_code=422, json={"detail": "bad body"})
    assert info.value.errors == []
    assert "bad body" in str(info.value)


HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@pytest.mark.parametrize("name", ["health", "evaluate", "get_job", "merge"])
async def test_html_502_is_internal_server_error(
    caller: Caller, mock: respx.MockRouter, name: str
) -> None:
    with pytest.raises(InternalServerError) as info:
        await call(
            caller,
            mock,
            name,
            status_code=502,
            content=HTML_502,
            headers={"content-type": "text/html"},
        )
    exc = info.value
    assert exc.status_code == 502
    assert exc.body is None
    assert "<title>502 Bad Gateway</title>" in str(exc)
    assert not isinstance(exc, json.JSONDecodeError)


async def test_html_404_from_a_proxy_on_a_job_is_still_not_found(
    caller: Caller, mock: respx.MockRouter
) -> None:
    with pytest.raises(JobNotFoundError) as info:
        await call(caller, mock, "get_job", status_code=404, content=b"<html>Not Found</html>")
    assert "<html>Not Found</html>" in str(info.value)


async def test_error_with_empty_body(caller: Caller, mock: respx.MockRouter) -> None:
    with pytest.raises(InternalServerError) as info:
        await call(caller, mock, "queue", status_code=500, content=b"")
    assert "500" in str(info.value)


MALFORMED_200 = [
    ("health", {"content": b"<html><body>Welcome to nginx!</body></html>"}, "is not JSON"),
    ("get_job", {"content": b""}, "is empty"),
    ("queue", {"content": b'{"queue_size": 1, "queued_jo'}, "is not JSON"),
    ("evaluate", {"json": {"job_id": 5}}, "does not match"),
    ("get_job", {"json": {"job_id": JOB_ID, "status": "running"}}, "does not match"),
    ("tasks", {"json": {"tasks": "mmmu_val"}}, "does not match"),
    ("models", {"json": ["qwen2_vl"]}, "does not match"),
    ("health", {"content": b"null"}, "does not match"),
    ("cancel_job", {"json": {"msg": "ok"}}, "does not match"),
    ("merge", {"json": {"success": "maybe", "message": "x"}}, "does not match"),
    ("queue", {"content": b"\xff\xfe{}"}, ""),
]


@pytest.mark.parametrize(
    ("name", "respond", "reason"),
    MALFORMED_200,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(MALFORMED_200)],
)
async def test_malformed_200_is_response_validation_error(
    caller: Caller, mock: respx.MockRouter, name: str, respond: dict[str, Any], reason: str
) -> None:
    with pytest.raises(APIResponseValidationError) as info:
        await call(caller, mock, name, status_code=200, **respond)
    exc = info.value
    assert not isinstance(exc, (json.JSONDecodeError, pydantic.ValidationError))
    assert type(exc) is APIResponseValidationError  # the documented class itself
    assert isinstance(exc, ValueError)  # as json's JSONDecodeError was (the errors guide)
    assert exc.status_code == 200
    assert isinstance(exc.response, httpx.Response)
    assert reason in str(exc)
    assert CALLS[name][3] in str(exc)


async def test_a_malformed_submit_answer_says_the_job_may_exist_and_what_did_not_match(
    caller: Caller, mock: respx.MockRouter
) -> None:
    # The six lines shown were half pydantic's "For further information visit ..." links.
    with pytest.raises(APIResponseValidationError) as info:
        await call(caller, mock, "evaluate", status_code=200, json={"job_id": 5})
    said = str(info.value)
    assert "errors.pydantic.dev" not in said and "For further information" not in said
    assert said.count("[type=") >= 2  # job_id's wrong type, a missing field
    assert "may have reached the server" in said and "get_queue_status()" in said


async def test_unexpected_2xx_status_is_response_validation_error(
    caller: Caller, mock: respx.MockRouter
) -> None:
    with pytest.raises(APIResponseValidationError) as info:
        await call(caller, mock, "evaluate", status_code=202, json={"accepted": True})
    assert info.value.status_code == 202


BIG = 5 * 1024 * 1024

BIG_BODIES = [
    pytest.param("health", 502, {"content": b"<html>" + b"x" * BIG}, id="html-502"),
    pytest.param("health", 200, {"content": b"<html>" + b"x" * BIG}, id="html-200"),
    pytest.param("queue", 200, {"json": {"queue_size": "x" * BIG}}, id="wrong-type-200"),
    pytest.param("get_job", 200, {"json": {"job_id": "x" * BIG}}, id="huge-str-200"),
    pytest.param("merge", 500, {"json": {"error": "x" * BIG}}, id="json-without-detail-500"),
    pytest.param(
        "merge",
        500,
        {"json": {"detail": "Traceback ...\n" + "x" * BIG}},
        id="json-detail-500",
    ),
    pytest.param(
        "evaluate",
        422,
        {
            "json": {
                "detail": [
                    {
                        "loc": ["body", "tasks", i],
                        "msg": "Input should be a valid string",
                        "type": "t",
                    }
                    for i in range(30_000)
                ]
            }
        },
        id="huge-422-list",
    ),
]


@pytest.mark.parametrize(("name", "status", "respond"), BIG_BODIES)
async def test_huge_bodies_make_short_messages(
    caller: Caller, mock: respx.MockRouter, name: str, status: int, respond: dict[str, Any]
) -> None:
    with pytest.raises(LmmsEvalError) as info:
        await call(caller, mock, name, status_code=status, **respond)
    assert len(str(info.value)) < 1000


TRANSPORT_CASES = [
    (httpx.ConnectError("[Errno 111] Connection refused"), APIConnectionError),
    (
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        APIConnectionError,
    ),
    (httpx.ReadError("reset by peer"), APIConnectionError),
    (httpx.ReadTimeout("timed out"), APITimeoutError),
    (httpx.ConnectTimeout("timed out"), APITimeoutError),
    (httpx.PoolTimeout("timed out"), APITimeoutError),
]


@pytest.mark.parametrize("name", ["health", "evaluate", "get_job"])
@pytest.mark.parametrize(
    ("error", "cls"), TRANSPORT_CASES, ids=[type(c[0]).__name__ for c in TRANSPORT_CASES]
)
async def test_transport_errors(
    caller: Caller, mock: respx.MockRouter, name: str, error: Exception, cls: type
) -> None:
    method, args, http_method, path = CALLS[name]
    mock.route(method=http_method, path=path).mock(side_effect=error)
    with pytest.raises(cls) as info:
        await getattr(caller, method)(*args)
    exc = info.value
    assert documented_type(exc) is cls
    assert isinstance(exc, APIConnectionError)
    assert exc.__cause__ is error
    assert exc.request is not None
    assert exc.request.url.path == path
    assert path in str(exc)
