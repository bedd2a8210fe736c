"""Regression tests for issue 9's broken promises (items 3, 5, 9, 10, 11, 12).

Each test failed on the code before the fix: it names the item it holds.
"""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
import warnings
from typing import Any

import httpx
import pytest
import respx

from lmms_eval_client import (
    APIConnectionError,
    APIResponseValidationError,
    EvalClient,
    InvalidArgumentError,
    JobFailedError,
    LmmsEvalError,
    ModelNameWarning,
)

from ..support import BASE, JOB_ID, SUBMIT_JSON, Caller, FakeClock, job_json

SECRET = "sk-live-TOPSECRET-0123"
NAMED = {"pretrained": "org/model"}

# -- item 3: secrets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": f"{SECRET} "},
        {"api_key": f" {SECRET}"},
        {"api_key": f"{SECRET}\n"},
        {"headers": {"X-Api-Key": f"{SECRET} "}},
        {"headers": {"Authorization": f"Bearer {SECRET}\t"}},
    ],
    ids=["key-trailing-space", "key-leading-space", "key-newline", "header-space", "auth-tab"],
)
def test_a_credential_with_surrounding_whitespace_is_refused_unseen(kwargs: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        EvalClient(BASE, **kwargs)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


def test_a_password_with_an_at_sign_is_masked_whole() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        EvalClient("http://alice:p@ss-SECRET@lmms.test:99999/")
    assert "SECRET" not in str(info.value) and "ss-" not in str(info.value)
    assert "***@lmms.test" in str(info.value)


@pytest.mark.parametrize("password", ["Se/cretPW99", "1234/cretPW99", "Se#cretPW99", "Se?cretPW99"])
def test_a_password_with_a_slash_hash_or_question_mark_is_refused_unseen(password: str) -> None:
    # Before: "Invalid port: 'Se'" quoted its start, or (digits before the "/") the URL was
    # taken as host "admin", port 1234, and every message carried the password's tail.
    with pytest.raises(InvalidArgumentError, match="percent-encoded") as info:
        EvalClient(f"http://admin:{password}@127.0.0.1:8000")
    assert "cretPW99" not in str(info.value) and "Se" not in str(info.value)
    assert "1234" not in str(info.value) and "***@127.0.0.1:8000" in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"api_key": "k"}, {"headers": {"Authorization": "Bearer k"}}],
    ids=["api_key", "authorization-header"],
)
def test_basic_auth_in_base_url_and_another_credential_conflict(kwargs: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="give only one of them"):
        EvalClient("http://alice:pw@lmms.test", **kwargs)


def test_basic_auth_in_base_url_and_the_env_key_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMMS_EVAL_API_KEY", "from-env")
    with pytest.raises(InvalidArgumentError, match=r"\$LMMS_EVAL_API_KEY"):
        EvalClient("http://alice:pw@lmms.test")


# -- item 5: raw exceptions -----------------------------------------------------------------

BAD_CONSTRUCTION: list[tuple[str, dict[str, Any]]] = [
    ("timeout-huge-int", {"timeout": 10**400}),
    ("timeout-1e300", {"timeout": 1e300}),
    ("timeout-bool", {"timeout": True}),
    ("timeout-object-nan", {"timeout": httpx.Timeout(float("nan"))}),
    ("timeout-object-negative", {"timeout": httpx.Timeout(-1)}),
    ("timeout-object-read-inf", {"timeout": httpx.Timeout(5.0, read=float("inf"))}),
    ("limits-int", {"limits": 5}),
    ("header-content-length", {"headers": {"Content-Length": "0"}}),
    ("header-transfer-encoding", {"headers": {"transfer-encoding": "chunked"}}),
    ("header-name-colon", {"headers": {"X-A:b": "v"}}),
    ("header-name-paren", {"headers": {"X(a)": "v"}}),
    ("port-out-of-range", {"base_url": "http://lmms.test:109189"}),
]


@pytest.mark.parametrize(
    "kwargs", [c[1] for c in BAD_CONSTRUCTION], ids=[c[0] for c in BAD_CONSTRUCTION]
)
def test_bad_settings_are_invalid_arguments_before_anything_is_sent(
    kwargs: dict[str, Any], mock: respx.MockRouter
) -> None:
    route = mock.get("/health").respond(200, json={"status": "healthy"})
    with pytest.raises(InvalidArgumentError):
        EvalClient(**{"base_url": BASE, **kwargs})
    assert not route.called


BAD_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("limit-huge", "evaluate", {"limit": 10**400}),
    ("num_fewshot-5000-digits", "evaluate", {"num_fewshot": 10**5000}),
    ("num_gpus-huge", "evaluate", {"num_gpus": 2**80}),
    ("batch_size-huge", "evaluate", {"batch_size": 10**5000}),
    ("model_args-deep", "evaluate", {"model_args": "DEEP"}),
    ("poll_interval-huge", "wait_for_job", {"poll_interval": 10**400}),
    ("poll_interval-1e300", "wait_for_job", {"poll_interval": 1e300}),
    ("timeout-huge", "wait_for_job", {"timeout": 10**400}),
]


def _deep(levels: int) -> dict[str, Any]:
    nested: dict[str, Any] = {"pretrained": "x"}
    for _ in range(levels):
        nested = {"a": nested}
    return nested


@pytest.mark.parametrize(
    ("method", "kwargs"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
async def test_bad_call_arguments_are_invalid_arguments_before_anything_is_sent(
    method: str, kwargs: dict[str, Any], caller: Caller, mock: respx.MockRouter
) -> None:
    submit = mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    poll = mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("running"))
    if kwargs.get("model_args") == "DEEP":
        kwargs = {"model_args": _deep(100_000)}
    base: dict[str, Any] = (
        {"model": "m", "tasks": ["t"], "model_args": NAMED}
        if method == "evaluate"
        else {"job_id": JOB_ID, "verbose": False}
    )
    with pytest.raises(InvalidArgumentError) as info:
        await getattr(caller, method)(**{**base, **kwargs})
    assert len(str(info.value)) < 400  # a 5,000-digit number is not quoted whole
    assert not submit.called and not poll.called


@pytest.mark.parametrize("name", ["model_args", "extra_body"])
async def test_json_deeper_than_a_request_can_carry_is_refused(
    name: str, caller: Caller, mock: respx.MockRouter
) -> None:
    """Deep enough for json.dumps, too deep for the request's serializer (pydantic's "Maximum
    serialization depth exceeded" was a ValueError from deep inside; issue 20, item 11)."""
    submit = mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    arguments: dict[str, Any] = {"model_args": {**NAMED, "deep": _deep(300)}}
    if name == "extra_body":
        arguments = {"model_args": NAMED, "extra_body": {"deep": _deep(300)}}
    with pytest.raises(InvalidArgumentError, match=f"{name} is nested too deeply"):
        await caller.evaluate("m", ["t"], **arguments)
    assert not submit.called
    await caller.evaluate("m", ["t"], **{**arguments, name: {**NAMED, "deep": _deep(150)}})


# -- item 9: wait edge cases -----------------------------------------------------------------


async def test_a_poll_answered_about_another_job_is_not_completion(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("completed", job_id="other-job"))
    with pytest.raises(APIResponseValidationError, match="other-job"):
        await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    with pytest.raises(APIResponseValidationError):
        await caller.get_job(JOB_ID)


async def test_an_unbounded_wait_rides_out_a_503_on_its_first_poll(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    mock.get(f"/jobs/{JOB_ID}").mock(
        side_effect=[httpx.Response(503, json={"detail": "restarting"})] * 5
        + [httpx.Response(200, json=job_json("completed"))]
    )
    done = await caller.wait_for_job(JOB_ID, poll_interval=1, timeout=None, verbose=False)
    assert done.status == "completed"


async def test_an_unbounded_wait_fails_after_one_stalled_first_poll(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(f"/jobs/{JOB_ID}").mock(side_effect=httpx.ReadTimeout("stalled"))
    with pytest.raises(APIConnectionError):
        await caller.wait_for_job(JOB_ID, poll_interval=1, timeout=None, verbose=False)
    assert route.call_count == 1  # not three network timeouts


async def test_a_bounded_wait_still_retries_a_stalled_poll(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = mock.get(f"/jobs/{JOB_ID}").mock(
        side_effect=[httpx.ReadTimeout("stalled"), httpx.Response(200, json=job_json("completed"))]
    )
    done = await caller.wait_for_job(JOB_ID, poll_interval=1, timeout=60, verbose=False)
    assert done.status == "completed" and route.call_count == 2


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"unexpected": True}),
        httpx.Response(200, content=b"<html>ok</html>"),
    ],
    ids=["wrong-shape", "not-json"],
)
async def test_an_unreadable_answer_to_a_submission_says_the_job_may_exist(
    answer: httpx.Response, caller: Caller, mock: respx.MockRouter
) -> None:
    mock.post("/evaluate").mock(return_value=answer)
    with pytest.raises(APIResponseValidationError, match="may have reached the server"):
        await caller.evaluate(model="m", tasks=["t"], model_args=NAMED)


# -- item 10: logging prints nothing ---------------------------------------------------------


def test_a_wait_warning_reaches_no_stderr_without_logging_configured() -> None:
    code = (
        "import httpx, respx\n"
        "from lmms_eval_client import EvalClient\n"
        "with respx.mock(base_url='http://lmms.test') as mock:\n"
        "    mock.get('/jobs/j').mock(side_effect=[httpx.Response(503), httpx.Response(200,"
        " json={'job_id': 'j', 'status': 'completed', 'created_at': 'x',"
        " 'request': {'model': 'm', 'tasks': ['t']}})])\n"
        "    c = EvalClient('http://lmms.test', max_retries=0)\n"
        "    c._sleep = lambda s: None\n"
        "    print(c.wait_for_job('j', timeout=5, verbose=False).status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "completed"
    assert done.stderr == ""


def test_the_wait_warning_is_logged_when_logging_is_configured(
    caplog: pytest.LogCaptureFixture, mock: respx.MockRouter
) -> None:
    mock.get("/jobs/j").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=job_json("completed", "j"))]
    )
    client = EvalClient(BASE, max_retries=0)
    client._sleep = lambda seconds: None  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        client.wait_for_job("j", timeout=5, verbose=False)
    assert any("poll failed, will retry" in r.getMessage() for r in caplog.records)


# -- item 11: drop-in inputs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ({"limit": -1}, {"limit": -1}),
        ({"limit": "8"}, {"limit": 8}),
        ({"limit": "0.5"}, {"limit": 0.5}),
        ({"num_fewshot": "3"}, {"num_fewshot": 3}),
        ({"num_gpus": "2"}, {"num_gpus": 2}),
    ],
    ids=["limit-all", "limit-str", "limit-fraction-str", "num_fewshot-str", "num_gpus-str"],
)
async def test_lmms_eval_style_options_are_accepted(
    given: dict[str, Any], sent: dict[str, Any], caller: Caller, mock: respx.MockRouter
) -> None:
    route = mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    await caller.evaluate(model="m", tasks=["t"], model_args=NAMED, **given)
    body = json.loads(route.calls.last.request.content)
    assert {k: body[k] for k in sent} == sent
    assert type(body[next(iter(sent))]) is type(next(iter(sent.values())))


async def test_extra_body_sends_fields_the_contract_does_not_know(
    caller: Caller, mock: respx.MockRouter
) -> None:
    route = mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    await caller.evaluate(
        model="m", tasks=["t"], model_args=NAMED, extra_body={"seed": 7, "apply_chat": True}
    )
    body = json.loads(route.calls.last.request.content)
    assert body["seed"] == 7 and body["apply_chat"] is True


@pytest.mark.parametrize(
    "extra", [{"limit": 5}, {"seed": float("nan")}, ["seed"]], ids=["known", "nan", "list"]
)
async def test_extra_body_refuses_known_fields_and_non_json(
    extra: Any, caller: Caller, mock: respx.MockRouter
) -> None:
    route = mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    with pytest.raises(InvalidArgumentError, match="extra_body"):
        await caller.evaluate(model="m", tasks=["t"], model_args=NAMED, extra_body=extra)
    assert not route.called


# -- item 12: what a user sees of a failed job and of a nameless model -------------------------


async def test_a_failed_job_says_its_reason(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    error = (
        "Evaluation produced no parsed results. Last lines of /x/eval.log:\n"
        "\x1b[32m2026\x1b[0m | \x1b[31mERROR   \x1b[0m | m:f:1 - \x1b[31mTasks were not found\n"
        "ValueError: Tasks not found: no_such_task. Try `lmms-eval --tasks list`\n"
        "\x1b[32m2026\x1b[0m | ERROR    | m:f:2 - Error during evaluation: see above\n"
    )
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("failed", error=error))
    with pytest.raises(JobFailedError) as info:
        await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    assert (
        info.value.reason
        == "ValueError: Tasks not found: no_such_task. Try `lmms-eval --tasks list`"
    )


@pytest.mark.parametrize("model_args", [None, {"device_map": "auto"}], ids=["none", "no-name-key"])
async def test_evaluate_warns_when_lmms_eval_cannot_name_the_model(
    model_args: Any, caller: Caller, mock: respx.MockRouter
) -> None:
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    with pytest.warns(ModelNameWarning, match="pretrained"):
        await caller.evaluate(model="m", tasks=["t"], model_args=model_args)


@pytest.mark.parametrize(
    "model_args",
    [{"pretrained": "a/b"}, {"model": "gpt"}, {"model_version": "x"}, {"engine": "e"}],
    ids=["pretrained", "model", "model_version", "engine"],
)
async def test_evaluate_is_quiet_when_the_model_has_a_name(
    model_args: Any, caller: Caller, mock: respx.MockRouter
) -> None:
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelNameWarning)
        await caller.evaluate(model="m", tasks=["t"], model_args=model_args)


async def test_an_answer_of_a_million_wrong_items_costs_its_size_not_its_error_text(
    make_caller: Any, mock: respx.MockRouter
) -> None:
    # Before: body_error built pydantic's text of every error (~170 bytes each) to show
    # six lines of it: 100,000 wrong items made a 17 MB string, 1,000,000 a 170 MB one.
    import json
    import tracemalloc

    body = json.dumps({"tasks": [{}] * 100_000})
    mock.get("/tasks").respond(200, content=body, headers={"content-type": "application/json"})
    caller = make_caller("http://lmms.test")
    tracemalloc.start()
    try:
        json.loads(body)
        _, parsing = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with pytest.raises(APIResponseValidationError) as caught:
            await caller.list_tasks()
        _, answering = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "100000 values do not match it" in str(caught.value)
    assert len(str(caught.value)) < 1000
    assert answering < 3 * parsing, (answering, parsing)  # before: ~5x


@pytest.mark.parametrize(
    ("status", "at"), [(500, 577), (200, 177)], ids=["detail-cut", "excerpt-cut"]
)
async def test_a_key_quoted_where_the_text_is_cut_is_masked(
    make_caller: Any, mock: respx.MockRouter, status: int, at: int
) -> None:
    # Before: the message was cut first (600 characters of a detail, 200 bytes of a body)
    # and masked after, so a key cut in two no longer matched: its start was shown.
    key = "SEKRET-abc12"  # short: not masked in data (see below), only in errors
    text = "x" * at + f" the key sent was {key} " + "y" * 100  # the bare key: 12 chars
    if status == 500:
        mock.get("/tasks").respond(500, json={"detail": text})
    else:
        mock.get("/tasks").respond(200, content=text.encode())
    caller = make_caller("http://lmms.test", api_key=key, max_retries=0)
    with pytest.raises(LmmsEvalError) as caught:
        await caller.list_tasks()
    shown = f"{caught.value} {caught.value!r} {pickle.dumps(caught.value)!r}"
    assert "SEKR" not in shown, shown  # not even the start of the key


async def test_a_job_error_or_a_discovery_error_quoting_the_key_is_masked(
    make_caller: Any, mock: respx.MockRouter
) -> None:
    # Before: only APIStatusError and APIResponseValidationError masked a server's text;
    # a job's error (JobFailedError, and the JobInfo itself) or /tasks' "error" kept the key.
    key = "SEKRETKEY-abcdefghijklmnop"
    quoted = f"upstream refused Authorization: Bearer {key}"
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("failed", error=quoted))
    mock.get("/tasks").respond(200, json={"tasks": [], "error": quoted})
    caller = make_caller("http://lmms.test", api_key=key, max_retries=0)
    with pytest.raises(JobFailedError) as failed:
        await caller.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    with pytest.raises(LmmsEvalError) as discovery:
        await caller.list_tasks()
    job = await caller.get_job(JOB_ID)
    for shown in (failed.value, discovery.value):
        text = f"{shown} {shown!r} {pickle.dumps(shown)!r}"
        assert key not in text and "Authorization: " in str(shown), text
        assert "<redacted>" in str(shown) or "[REDACTED]" in str(shown), text
    assert key not in (job.error or "") and "<redacted>" in (job.error or "")


@pytest.mark.parametrize("key", ["test", "1234"])
async def test_a_short_credential_never_changes_an_answer(
    make_caller: Any, mock: respx.MockRouter, key: str
) -> None:
    # The review of 4a6efe4: masking every credential in every body turned "mme_test"
    # into "mme_<redacted>" and queue_size 12345 into invalid JSON. A short credential is
    # masked where a server's text enters an error only.
    mock.get("/tasks").respond(200, json={"tasks": ["mme_test", "mmmu_val"]})
    health = {"status": "healthy", "queue_size": 12345, "timestamp": "2024-01-01T00:00:00"}
    mock.get("/health").respond(200, json=health)
    caller = make_caller("http://lmms.test", api_key=key)
    assert await caller.list_tasks() == ["mme_test", "mmmu_val"]
    assert (await caller.health()).queue_size == 12345


async def test_a_refused_oversized_body_shows_no_part_of_the_key(make_caller: Any) -> None:
    # The review: too_large cut the body to 200 bytes before anything masked it, so a key
    # across byte 200 showed its start.
    import gzip

    key = "sk-SECRETKEY-abcdefghijkl"
    body = gzip.compress(b"x" * 190 + key.encode() + b"y" * 5000)  # small until decoded
    with respx.mock(base_url="http://lmms.test") as mock:
        mock.get("/tasks").respond(200, content=body, headers={"Content-Encoding": "gzip"})
        caller = make_caller("http://lmms.test", api_key=key, max_response_bytes=1024)
        with pytest.raises(LmmsEvalError) as caught:
            await caller.list_tasks()
    shown = f"{caught.value} {caught.value!r} {pickle.dumps(caught.value)!r}"
    assert "SECRETKEY" not in shown and "sk-SEC" not in shown, shown
