"""Code written for lmms-eval's own EvalClient keeps working; configuration and secrets."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import respx

from lmms_eval_client import LmmsEvalError

from ..support import BASE, HEALTH_JSON, JOB_ID, MINIMAL_REQUESTS, SUBMIT_JSON, Caller, job_json

pytestmark = MINIMAL_REQUESTS

RESULT = {"Qwen__Qwen2-VL": {"results": "/r/res.json", "samples": []}}


async def test_results_read_like_the_old_dicts(caller: Caller, mock: respx.MockRouter) -> None:
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("completed", result=RESULT))
    job = await caller.evaluate("m", ["t"])
    assert job["job_id"] == JOB_ID
    info = await caller.wait_for_job(job["job_id"], verbose=False)
    assert info["status"] == "completed"
    assert info["status"] in {"completed", "failed"}
    assert info.status in {"completed", "failed"}
    assert f"{info['status']}" == "completed"
    assert info.get("error") is None
    assert info.get("no_such_key", "dflt") == "dflt"
    assert "result" in info
    assert "no_such_key" not in info
    assert info["result"]["Qwen__Qwen2-VL"]["results"] == "/r/res.json"
    with pytest.raises(KeyError):
        info["no_such_key"]


async def test_failed_job_error_by_key(caller: Caller, mock: respx.MockRouter) -> None:
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("failed", error="boom"))
    info = await caller.get_job(JOB_ID)
    assert info.get("error") == "boom"
    assert info["status"] == "failed"


async def test_http_status_error_still_catches_404(caller: Caller, mock: respx.MockRouter) -> None:
    mock.get(f"/jobs/{JOB_ID}").respond(404, json={"detail": "Job not found"})
    try:
        await caller.get_job(JOB_ID)
    except httpx.HTTPStatusError as exc:  # what code written for lmms-eval's client catches
        assert exc.response.status_code == 404
    else:
        pytest.fail("no error raised")


async def test_positional_base_url(make_caller: Any) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get("http://x:1/health").respond(200, json=HEALTH_JSON)
        caller = make_caller("http://x:1")
        await caller.health()
    assert route.call_count == 1


@pytest.mark.parametrize("url", ["http://lmms.test/", "http://lmms.test//", "http://lmms.test"])
async def test_base_url_trailing_slash(make_caller: Any, mock: respx.MockRouter, url: str) -> None:
    route = mock.get("/health").respond(200, json=HEALTH_JSON)
    caller = make_caller(url)
    await caller.health()
    assert route.calls.last.request.url.raw_path == b"/health"


async def test_base_url_from_environment(make_caller: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMMS_EVAL_BASE_URL", "http://env.test:9000/")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get("http://env.test:9000/health").respond(200, json=HEALTH_JSON)
        caller = make_caller()
        assert caller.client.base_url == "http://env.test:9000"
        await caller.health()
    assert route.call_count == 1


async def test_base_url_argument_beats_environment(
    make_caller: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMMS_EVAL_BASE_URL", "http://env.test:9000")
    assert make_caller(BASE).client.base_url == BASE


async def test_base_url_default(make_caller: Any) -> None:
    assert make_caller().client.base_url == "http://localhost:8000"


SECRET = "sk-very-secret-0123456789"


@pytest.mark.parametrize("source", ["argument", "environment"])
async def test_api_key_sent_as_bearer(
    make_caller: Any, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    route = mock.get("/health").respond(200, json=HEALTH_JSON)
    if source == "argument":
        monkeypatch.setenv("LMMS_EVAL_API_KEY", "the-other-key")
        caller = make_caller(BASE, api_key=SECRET)
    else:
        monkeypatch.setenv("LMMS_EVAL_API_KEY", SECRET)
        caller = make_caller(BASE)
    await caller.health()
    assert route.calls.last.request.headers["authorization"] == f"Bearer {SECRET}"


async def test_no_api_key_no_authorization(caller: Caller, mock: respx.MockRouter) -> None:
    route = mock.get("/health").respond(200, json=HEALTH_JSON)
    await caller.health()
    assert "authorization" not in route.calls.last.request.headers


FAILURES = [
    httpx.Response(401, json={"detail": "Unauthorized"}),
    httpx.Response(500, json={"detail": "boom"}),
    httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "bad", "type": "t"}]}),
    httpx.Response(200, text="<html>login page</html>"),
    httpx.Response(200, json={"job_id": 5}),
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("slow"),
]


@pytest.mark.parametrize(
    "failure", FAILURES, ids=lambda f: getattr(f, "status_code", type(f).__name__)
)
async def test_api_key_never_shown(
    make_caller: Any,
    mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    failure: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    route = mock.post("/evaluate")
    if isinstance(failure, httpx.Response):
        route.mock(return_value=failure)
    else:
        route.mock(side_effect=failure)
    caller = make_caller(BASE, api_key=SECRET)
    assert SECRET not in repr(caller.client)
    assert SECRET not in str(caller.client)
    with pytest.raises(LmmsEvalError) as info:
        await caller.evaluate("m", ["t"])
    assert route.calls.last.request.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert SECRET not in caplog.text


async def test_repr_names_the_server(make_caller: Any) -> None:
    client = make_caller(BASE, api_key=SECRET).client
    assert repr(client) == f"{type(client).__name__}(base_url='{BASE}')"


async def test_extra_headers_are_sent(make_caller: Any, mock: respx.MockRouter) -> None:
    route = mock.get("/health").respond(200, json=HEALTH_JSON)
    caller = make_caller(BASE, headers={"X-Team": "vision"})
    await caller.health()
    assert route.calls.last.request.headers["x-team"] == "vision"
