"""A server (a gateway) that quotes the client's credentials back: an error never carries them.

Issue 20, item 6: a 401 whose body quotes the Authorization header put the API key (or the
base64 of the base URL's user:password) into str, repr and pickle of the error. The
client's own secrets (api_key, the Authorization header it sends, the basic-auth
credentials and their base64, headers whose names mark them secret) are masked in every
server text an error keeps: its message, ``detail``, ``body`` and ``response``.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from lmms_eval_client import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    LmmsEvalError,
    UnprocessableEntityError,
)

from ..support import BASE, JOB_ID, Caller

KEY = "sk-live-5ecret-0123456789"
TOKEN = "tok-0ther-5ecret-987654"
PASSWORD = "pa55w0rd-5ecret"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()

# how the client is given its credentials -> (constructor arguments, secrets never shown)
CREDENTIALS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "api_key": ({"base_url": BASE, "api_key": KEY}, (KEY,)),
    "authorization header": (
        {"base_url": BASE, "headers": {"Authorization": f"Token {KEY}"}},
        (KEY,),
    ),
    "secret header": ({"base_url": BASE, "headers": {"X-Api-Key": TOKEN}}, (TOKEN,)),
    "base_url password": (
        {"base_url": f"http://alice:{PASSWORD}@lmms.test"},
        (PASSWORD, BASIC, f"alice:{PASSWORD}"),
    ),
}


def quoting(status: int, form: str) -> Callable[[httpx.Request], httpx.Response]:
    """A gateway's answer that quotes every header of the request it got."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent = dict(request.headers)
        lines = "\n".join(f"{name}: {value}" for name, value in sent.items())
        if form == "json":
            return httpx.Response(
                status,
                json={"detail": f"rejected credentials:\n{lines}", "echo": {"headers": sent}},
                headers={"X-Echo": sent.get("authorization", sent.get("x-api-key", ""))},
            )
        if form == "field errors":
            return httpx.Response(
                status, json={"detail": [{"loc": ["body", lines], "msg": lines, "type": "x"}]}
            )
        return httpx.Response(status, text=f"<html><pre>{lines}</pre></html>")

    return answer


def everything_shown(error: BaseException) -> str:
    """What a user, a log or a process pool could see of an error."""
    assert isinstance(error, (APIStatusError, APIResponseValidationError))
    parts = [str(error), repr(error), repr(error.args), repr(error.response)]
    parts += [error.response.text, repr(dict(error.response.headers))]
    parts += [repr(pickle.dumps(error)), str(pickle.loads(pickle.dumps(error)))]
    parts += [str(copy.deepcopy(error))]
    if isinstance(error, APIStatusError):
        parts += [error.detail, json.dumps(error.body)]
    if isinstance(error, UnprocessableEntityError):
        parts += [json.dumps(error.errors)]
    return "\n".join(parts)


@pytest.mark.parametrize("how", CREDENTIALS)
@pytest.mark.parametrize(
    ("status", "form", "expected"),
    [
        (401, "json", AuthenticationError),
        (401, "html", AuthenticationError),
        (422, "field errors", UnprocessableEntityError),
        (502, "html", APIStatusError),
        (200, "html", APIResponseValidationError),  # a 2xx that is not the contract's JSON
    ],
)
async def test_an_error_never_carries_the_credentials_a_server_quotes(
    make_caller: Callable[..., Caller],
    how: str,
    status: int,
    form: str,
    expected: type[LmmsEvalError],
) -> None:
    arguments, secrets = CREDENTIALS[how]
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(url__regex=r"/jobs/").mock(side_effect=quoting(status, form))
        caller = make_caller(**arguments, max_retries=0)
        with pytest.raises(expected) as info:
            await caller.get_job(JOB_ID)
    sent = " ".join(route.calls.last.request.headers.values())
    assert any(secret in sent for secret in secrets)  # the secret was sent, and quoted
    shown = everything_shown(info.value)
    for secret in secrets:
        assert secret not in shown, f"{secret!r} shown"
    assert "<redacted>" in info.value.response.text  # the rest of the server's text is kept
    assert "user-agent: lmms-eval-client/" in info.value.response.text


async def test_the_masked_error_still_says_what_the_server_said(
    make_caller: Callable[..., Caller],
) -> None:
    with respx.mock() as mock:
        mock.get(url__regex=r"/jobs/").mock(side_effect=quoting(401, "json"))
        with pytest.raises(AuthenticationError) as info:
            await make_caller(BASE, api_key=KEY, max_retries=0).get_job(JOB_ID)
    error = info.value
    assert error.status_code == 401
    assert "rejected credentials" in str(error) and "authorization: <redacted>" in str(error)
    assert error.body["echo"]["headers"]["authorization"] == "<redacted>"
    assert error.response.headers["x-echo"] == "<redacted>"
    assert error.response.json()["detail"] == error.detail
