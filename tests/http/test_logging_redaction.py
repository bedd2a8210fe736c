"""Logging through the stdlib logger ``lmms_eval_client`` (responses at DEBUG, retries at
INFO, setbacks of a wait at WARNING), and secrets never shown: not in logs (of any logger,
at any level), not in repr(client), not in exception messages.

tests/client/test_compat.py checks the api key across the failures of one evaluate(); here
across retries, waits, cancels and every logger at DEBUG.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import httpx
import pytest
import respx

from lmms_eval_client import LmmsEvalError, WaitTimeoutError

from ..support import BASE, HEALTH_JSON, JOB_ID, MINIMAL_REQUESTS, Caller, job_json

pytestmark = MINIMAL_REQUESTS

LOGGER = "lmms_eval_client"
PATH = f"/jobs/{JOB_ID}"


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return caplog


def no_jitter(caller: Caller) -> None:
    caller.client._retry = dataclasses.replace(caller.client._retry, random=lambda: 0.0)


# ----------------------------------------------------------------------------------------
# What is logged, and at which level
# ----------------------------------------------------------------------------------------


def test_the_library_does_not_configure_logging() -> None:
    logger = logging.getLogger(LOGGER)
    assert all(isinstance(h, logging.NullHandler) for h in logger.handlers)
    assert logger.propagate is True
    assert logger.level == logging.NOTSET


async def test_each_response_is_logged_at_debug(
    caller: Caller, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    mock.get(PATH).respond(404, json={"detail": "Job not found"})
    await caller.health()
    with pytest.raises(LmmsEvalError):
        await caller.get_job(JOB_ID)
    assert records(logs, logging.DEBUG) == [
        f"GET {BASE}/health -> 200",
        f"GET {BASE}{PATH} -> 404",
    ]
    assert records(logs, logging.INFO) == records(logs, logging.WARNING) == []


async def test_each_retry_is_logged_at_info(
    caller: Caller, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    no_jitter(caller)
    mock.get("/health").mock(
        side_effect=[
            httpx.Response(503, json={"detail": "busy"}),
            httpx.ConnectError("refused"),
            httpx.Response(200, json=HEALTH_JSON),
        ]
    )
    await caller.health()
    assert records(logs, logging.INFO) == [
        f"GET {BASE}/health failed (status 503); retry 1 of 2 in 0.50 s",
        f"GET {BASE}/health failed (ConnectError); retry 2 of 2 in 1.00 s",
    ]
    assert records(logs, logging.DEBUG) == [
        f"GET {BASE}/health -> 503",
        f"GET {BASE}/health failed: ConnectError",
        f"GET {BASE}/health -> 200",
    ]


async def test_retry_after_is_shown_in_the_retry_line(
    caller: Caller, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    mock.get("/queue").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "12"}, json={}),
            httpx.Response(200, json={"queue_size": 0, "queued_jobs": [], "completed_jobs": 0,
                                      "failed_jobs": 0}),
        ]
    )  # fmt: skip
    await caller.get_queue_status()
    assert records(logs, logging.INFO) == [
        f"GET {BASE}/queue failed (status 429); retry 1 of 2 in 12.00 s"
    ]


async def test_a_retry_after_longer_than_the_call_waits_is_logged_as_not_retried(
    caller: Caller, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    # Before: "retry 1 of 2 in 60.00 s" was logged, then the error raised at once.
    mock.get("/queue").mock(return_value=httpx.Response(429, headers={"Retry-After": "60"}))
    with pytest.raises(LmmsEvalError):
        await caller.get_queue_status(timeout=1)
    assert records(logs, logging.INFO) == [
        f"GET {BASE}/queue failed (status 429); not retried: the server asks for a wait of "
        "60.00 s, longer than this call waits (8.00 s)"
    ]


async def test_setbacks_of_a_wait_are_logged_at_warning(
    make_caller: Any, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    caller = make_caller(BASE, max_retries=0)
    mock.get(PATH).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(502, text="<html>Bad Gateway</html>"),
            httpx.Response(200, json=job_json("completed")),
        ]
    )
    # A bounded wait rides out failures even before the first answer.
    await caller.wait_for_job(JOB_ID, poll_interval=1, timeout=60, verbose=False)
    *warnings, back = records(logs, logging.WARNING)
    assert len(warnings) == 2
    assert all(
        w.startswith(f"Waiting for job {JOB_ID}: poll failed, will retry: ") for w in warnings
    )
    assert "ConnectError" in warnings[0]
    assert "502" in warnings[1] and "Bad Gateway" in warnings[1]
    assert back == f"Waiting for job {JOB_ID}: polls work again"


async def test_a_wait_says_a_poll_failing_the_same_way_once(
    make_caller: Any, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    # Before: a warning at each failed poll (a server down for an hour: one every few
    # seconds, the same each time).
    caller = make_caller(BASE, max_retries=0)
    refused, job = httpx.ConnectError("refused"), httpx.Response(200, json=job_json("running"))
    done = httpx.Response(200, json=job_json("completed"))
    mock.get(PATH).mock(side_effect=[refused, refused, refused, job, refused, refused, done])
    await caller.wait_for_job(JOB_ID, poll_interval=1, timeout=60, verbose=False)
    said = [w.split(": ", 2)[1] for w in records(logs, logging.WARNING)]
    assert said == ["poll failed, will retry", "polls work again"] * 2


async def test_cancel_reconciliation_is_logged_at_info(
    caller: Caller, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    mock.delete(PATH).mock(
        side_effect=[
            httpx.ReadTimeout("lost"),
            httpx.Response(400, json={"detail": "Job already finished or cancelled"}),
        ]
    )
    mock.get(PATH).respond(200, json=job_json("cancelled"))
    await caller.cancel_job(JOB_ID)
    assert records(logs, logging.INFO)[-1] == (
        f"Job {JOB_ID} is cancelled: an earlier attempt of the retried cancel did it"
    )


# ----------------------------------------------------------------------------------------
# Secrets
# ----------------------------------------------------------------------------------------

SECRET = "sk-live-5ecret-0123456789"
TOKEN = "tok-0ther-5ecret-987654"
COOKIE = "session=c00kie-5ecret"
SECRETS = (SECRET, TOKEN, COOKIE.split("=")[1])


def shown(*things: Any) -> str:
    """Everything a user could see of these objects."""
    parts = []
    for thing in things:
        parts += [str(thing), repr(thing)]
        if isinstance(thing, BaseException):
            parts += [repr(thing.args), str(thing.__cause__), str(thing.__context__)]
    return "\n".join(parts)


@pytest.mark.parametrize("how", ["api_key", "environment", "headers"])
async def test_credentials_never_shown_across_retries_waits_and_cancels(
    make_caller: Any,
    mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx's, httpcore's
    extra = {"X-Api-Key": TOKEN, "Cookie": COOKIE}
    if how == "api_key":
        caller = make_caller(BASE, api_key=SECRET, headers=extra)
    elif how == "environment":
        monkeypatch.setenv("LMMS_EVAL_API_KEY", SECRET)
        caller = make_caller(BASE, headers=extra)
    else:
        caller = make_caller(BASE, headers={**extra, "Authorization": f"Bearer {SECRET}"})

    health = mock.get("/health").mock(
        side_effect=[httpx.Response(503, json={}), httpx.ReadTimeout("slow"), httpx.Response(401)]
    )
    mock.get(PATH).mock(
        side_effect=[httpx.ConnectError("refused")] * 3 + [httpx.Response(200, json=job_json())]
    )
    mock.delete(PATH).mock(
        side_effect=[httpx.ReadError("reset"), httpx.Response(400, json={"detail": "Job running"})]
    )
    mock.post("/evaluate").mock(side_effect=httpx.RemoteProtocolError("lost"))
    errors: list[BaseException] = []
    for attempt in (
        caller.health(),
        caller.wait_for_job(JOB_ID, poll_interval=1, timeout=0, verbose=False),
        caller.cancel_job(JOB_ID),
        caller.evaluate("m", ["t"]),
    ):
        with pytest.raises(LmmsEvalError) as info:
            await attempt
        errors.append(info.value)
    assert isinstance(errors[1], WaitTimeoutError)
    assert health.calls.last.request.headers["authorization"] == f"Bearer {SECRET}"
    assert health.calls.last.request.headers["x-api-key"] == TOKEN
    text = shown(caller.client, *errors) + "\n" + caplog.text
    assert len(caplog.records) > 10
    for secret in SECRETS:
        assert secret not in text


async def test_repr_shows_no_header(make_caller: Any) -> None:
    client = make_caller(BASE, api_key=SECRET, headers={"X-Api-Key": TOKEN}).client
    assert repr(client) == f"{type(client).__name__}(base_url='{BASE}')"
    assert SECRET not in str(client) and TOKEN not in str(client)


USERINFO_BASE = "http://alice:pa55w0rd-5ecret@lmms.test"


async def test_base_url_password_not_in_errors_or_our_logs(
    make_caller: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with respx.mock(assert_all_called=False) as mock:
        sent = mock.get(url__startswith="http://lmms.test/health").mock(
            side_effect=[httpx.Response(503, json={}), httpx.ConnectError("refused"),
                         httpx.Response(500, json={"detail": "boom"})]
        )  # fmt: skip
        caller = make_caller(USERINFO_BASE)
        with pytest.raises(LmmsEvalError) as info:
            await caller.health()
    assert sent.calls.last.request.headers["authorization"].startswith("Basic ")
    assert "pa55w0rd" not in shown(info.value)
    assert "pa55w0rd" not in caplog.text
    assert len(caplog.records) >= 3


# A password in base_url used to show in repr(client) and in httpx's own INFO line
# ('HTTP Request: GET http://user:password@host/...'); it is now sent as basic auth and
# kept out of every URL (fixed in 625bdc3).


async def test_repr_hides_a_base_url_password(make_caller: Any) -> None:
    client = make_caller(USERINFO_BASE).client
    assert "pa55w0rd" not in repr(client)
    assert "pa55w0rd" not in client.base_url


async def test_base_url_password_not_in_any_log(
    make_caller: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx's included
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__startswith="http://lmms.test/health").respond(200, json=HEALTH_JSON)
        await make_caller(USERINFO_BASE).health()
    assert route.calls.last.request.headers["authorization"].startswith("Basic ")
    assert any(r.name == "httpx" for r in caplog.records)
    assert "pa55w0rd" not in caplog.text
