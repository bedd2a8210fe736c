"""The retry policy both clients share: the pure policy (_retry.py), then what each client
does with it over respx, for every operation and every kind of failure.

The rule under test: a failure before the request was sent is retried for every operation;
a GET (and a cancel) is also retried on timeouts, broken connections and 429/502/503/504;
POST /evaluate and POST /merge never once the request may have reached the server.
No test sleeps: the clients sleep on the fake clock, whose ``sleeps`` are the backoff.
"""

from __future__ import annotations

import dataclasses
import email.utils
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from lmms_eval_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CancelResponse,
    InternalServerError,
    JobNotFoundError,
    LmmsEvalError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from lmms_eval_client._http.retry import (
    DEFAULT_MAX_RETRIES,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    Idempotency,
    RetryPolicy,
    is_transient,
    may_have_been_sent,
)

from .._errors import documented_type
from ..support import (
    HEALTH_JSON,
    JOB_ID,
    MINIMAL_REQUESTS,
    QUEUE_JSON,
    SUBMIT_JSON,
    Caller,
    FakeClock,
    job_json,
)

pytestmark = MINIMAL_REQUESTS

SAFE, UNSAFE = Idempotency.SAFE, Idempotency.UNSAFE
REQUEST = httpx.Request("GET", "http://lmms.test/health")

# ----------------------------------------------------------------------------------------
# The pure policy
# ----------------------------------------------------------------------------------------

NOT_SENT = [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout]
MAYBE_SENT = [
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
]
NEVER_RETRIED = [httpx.LocalProtocolError, httpx.ProxyError, httpx.UnsupportedProtocol]


def error(cls: type[httpx.TransportError]) -> httpx.TransportError:
    return cls("boom", request=REQUEST)


def test_defaults() -> None:
    assert DEFAULT_MAX_RETRIES == 2
    assert RetryPolicy().max_retries == 2


@pytest.mark.parametrize(
    ("jitter", "schedule"),
    [
        (0.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]),
        (1.0, [0.375, 0.75, 1.5, 3.0, 6.0, 6.0, 6.0]),
        (0.5, [0.4375, 0.875, 1.75, 3.5, 7.0, 7.0, 7.0]),
    ],
)
def test_backoff_schedule_with_injected_random(jitter: float, schedule: list[float]) -> None:
    policy = RetryPolicy(random=lambda: jitter)
    assert [policy.backoff(n) for n in range(7)] == schedule


@settings(derandomize=True)
@given(retries_done=st.integers(0, 200), jitter=st.floats(0, 1, exclude_max=True))
def test_backoff_is_capped_and_jittered_down_by_at_most_a_quarter(
    retries_done: int, jitter: float
) -> None:
    delay = RetryPolicy(random=lambda: jitter).backoff(retries_done)
    base = min(0.5 * 2.0**retries_done, MAX_BACKOFF)
    assert 0.75 * base <= delay <= base <= MAX_BACKOFF


@pytest.mark.parametrize("cls", NOT_SENT + MAYBE_SENT + NEVER_RETRIED, ids=lambda c: c.__name__)
def test_may_have_been_sent(cls: type[httpx.TransportError]) -> None:
    assert may_have_been_sent(error(cls)) is (cls not in NOT_SENT)


@pytest.mark.parametrize("idempotency", [SAFE, UNSAFE], ids=lambda i: i.value)
@pytest.mark.parametrize("cls", NOT_SENT + MAYBE_SENT + NEVER_RETRIED, ids=lambda c: c.__name__)
def test_which_transport_errors_are_retried(
    cls: type[httpx.TransportError], idempotency: Idempotency
) -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    delay = policy.retry_after_error(idempotency, error(cls), 0)
    retried = cls in NOT_SENT or (cls in MAYBE_SENT and idempotency is not UNSAFE)
    assert delay == (0.5 if retried else None)


@pytest.mark.parametrize("idempotency", [SAFE, UNSAFE], ids=lambda i: i.value)
@pytest.mark.parametrize(
    "status", [200, 201, 204, 301, 400, 401, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504, 599]
)
def test_which_statuses_are_retried(status: int, idempotency: Idempotency) -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    delay = policy.retry_after_response(idempotency, httpx.Response(status, request=REQUEST), 0)
    retried = status in (429, 502, 503, 504) and idempotency is not UNSAFE
    assert delay == (0.5 if retried else None)


@pytest.mark.parametrize("max_retries", [0, 1, 2, 5])
def test_retries_stop_at_max_retries(max_retries: int) -> None:
    policy = RetryPolicy(max_retries=max_retries, random=lambda: 0.0)
    refused = error(httpx.ConnectError)
    busy = httpx.Response(503, request=REQUEST)
    for done in range(max_retries):
        assert policy.retry_after_error(SAFE, refused, done) is not None
        assert policy.retry_after_response(SAFE, busy, done) is not None
    assert policy.retry_after_error(SAFE, refused, max_retries) is None
    assert policy.retry_after_response(SAFE, busy, max_retries) is None


NOW = 1_445_412_470.0  # 2015-10-21 07:27:50 UTC: ten seconds before DATE
DATE = "Wed, 21 Oct 2015 07:28:00 GMT"

RETRY_AFTER = [
    ("3", 3.0),
    ("0", 0.0),
    ("1.5", 1.5),
    (" 7 ", 7.0),
    ("60", 60.0),
    ("61", MAX_RETRY_AFTER),
    ("3600", MAX_RETRY_AFTER),
    ("1e9", MAX_RETRY_AFTER),
    ("inf", MAX_RETRY_AFTER),
    ("-5", 0.0),
    (DATE, 10.0),
    (email.utils.formatdate(NOW - 3600, usegmt=True), 0.0),  # in the past
    (email.utils.formatdate(NOW + 86400, usegmt=True), MAX_RETRY_AFTER),  # capped
    ("nan", None),
    ("soon", None),
    ("", None),
    ("Wed, 32 Oct 2015 07:28:00 GMT", None),
    ("10 seconds", None),
]


@pytest.mark.parametrize(
    ("header", "seconds"), RETRY_AFTER, ids=[h or "empty" for h, _ in RETRY_AFTER]
)
def test_retry_after_header(header: str, seconds: float | None) -> None:
    policy = RetryPolicy(random=lambda: 0.0, now=lambda: NOW)
    response = httpx.Response(503, headers={"Retry-After": header}, request=REQUEST)
    assert policy.retry_after_header(response) == seconds
    # honoured when usable, else the backoff
    expected = seconds if seconds is not None else 0.5
    assert policy.retry_after_response(SAFE, response, 0) == expected


def test_retry_after_is_not_a_reason_to_retry_a_submission() -> None:
    policy = RetryPolicy(now=lambda: NOW)
    response = httpx.Response(429, headers={"Retry-After": "1"}, request=REQUEST)
    assert policy.retry_after_response(UNSAFE, response, 0) is None


TRANSIENT = [
    (APIConnectionError("refused"), True),
    (APITimeoutError("slow"), True),
    (RateLimitError, True),
    (502, True),
    (503, True),
    (504, True),
    (500, False),
    (501, False),
    (400, False),
    (401, False),
    (404, False),
]


def status_exc(status: int) -> LmmsEvalError:
    response = httpx.Response(status, request=REQUEST)
    cls = {429: RateLimitError, 400: BadRequestError, 401: AuthenticationError}.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    if status == 404:
        return JobNotFoundError("gone", response=response, detail="", body=None, job_id="j")
    return cls("x", response=response, detail="", body=None)


@pytest.mark.parametrize(("case", "transient"), TRANSIENT, ids=lambda c: str(c)[:20])
def test_is_transient(case: Any, transient: bool) -> None:
    if case is RateLimitError:
        case = status_exc(429)
    elif isinstance(case, int):
        case = status_exc(case)
    assert is_transient(case) is transient


@pytest.mark.parametrize(("case", "transient"), TRANSIENT, ids=lambda c: str(c)[:20])
def test_the_pool_and_the_cli_ask_the_same_predicate(case: Any, transient: bool) -> None:
    """Issue 19: one predicate for transient failures. Every wait (the CLI's watch among
    them) asks it by default; the pool's "server not there now" is it, less a 429 (the
    server answered that)."""
    import inspect

    from lmms_eval_client._client.wait import Waiter
    from lmms_eval_client._pool.errors import is_unreachable

    assert inspect.signature(Waiter).parameters["transient"].default is is_transient
    error = status_exc(429) if case is RateLimitError else case
    error = status_exc(error) if isinstance(error, int) else error
    assert is_unreachable(error) is (transient and not isinstance(error, RateLimitError))


# ----------------------------------------------------------------------------------------
# Both clients, every operation, every failure
# ----------------------------------------------------------------------------------------

# name: (method, args, http method, path, success body)
OPERATIONS: dict[str, tuple[str, tuple[Any, ...], str, str, Any]] = {
    "health": ("health", (), "GET", "/health", HEALTH_JSON),
    "tasks": ("list_tasks", (), "GET", "/tasks", {"tasks": ["mme"]}),
    "models": ("list_models", (), "GET", "/models", {"models": ["qwen2_vl"]}),
    "queue": ("get_queue_status", (), "GET", "/queue", QUEUE_JSON),
    "get_job": ("get_job", (JOB_ID,), "GET", f"/jobs/{JOB_ID}", job_json("running")),
    "cancel_job": (
        "cancel_job",
        (JOB_ID,),
        "DELETE",
        f"/jobs/{JOB_ID}",
        {"message": f"Job {JOB_ID} cancelled"},
    ),
    "evaluate": ("evaluate", ("m", ["t"]), "POST", "/evaluate", SUBMIT_JSON),
    "merge": (
        "merge_checkpoint",
        ("/ck",),
        "POST",
        "/merge",
        {"success": True, "message": "merged", "merged_path": "/out"},
    ),
}
SUBMISSIONS = {"evaluate", "merge"}


def failure_response(status: int) -> httpx.Response:
    return httpx.Response(status, json={"detail": f"status {status}"})


# (id, side effect, error it ends with, retried for GET/DELETE, retried for POST)
FAILURES: list[tuple[str, Any, type[LmmsEvalError], bool, bool]] = [
    ("ConnectError", httpx.ConnectError("refused"), APIConnectionError, True, True),
    ("ConnectTimeout", httpx.ConnectTimeout("slow"), APITimeoutError, True, True),
    ("PoolTimeout", httpx.PoolTimeout("busy"), APITimeoutError, True, True),
    ("ReadTimeout", httpx.ReadTimeout("slow"), APITimeoutError, True, False),
    ("WriteTimeout", httpx.WriteTimeout("slow"), APITimeoutError, True, False),
    ("ReadError", httpx.ReadError("reset"), APIConnectionError, True, False),
    ("WriteError", httpx.WriteError("broken pipe"), APIConnectionError, True, False),
    ("RemoteProtocolError", httpx.RemoteProtocolError("disconnected"), APIConnectionError,
     True, False),
    ("429", failure_response(429), RateLimitError, True, False),
    ("502", failure_response(502), InternalServerError, True, False),
    ("503", failure_response(503), InternalServerError, True, False),
    ("504", failure_response(504), InternalServerError, True, False),
    ("500", failure_response(500), InternalServerError, False, False),
    ("400", failure_response(400), BadRequestError, False, False),
    ("401", failure_response(401), AuthenticationError, False, False),
    ("422", failure_response(422), UnprocessableEntityError, False, False),
    ("LocalProtocolError", httpx.LocalProtocolError("bad header"), APIConnectionError,
     False, False),
]  # fmt: skip


def route(mock: respx.MockRouter, name: str) -> respx.Route:
    _, _, http_method, path, _ = OPERATIONS[name]
    return mock.route(method=http_method, path=path)


async def call(caller: Caller, name: str) -> Any:
    method, args, *_ = OPERATIONS[name]
    return await getattr(caller, method)(*args)


def fail_with(failing: respx.Route, failure: Any) -> respx.Route:
    if isinstance(failure, httpx.Response):
        return failing.mock(return_value=failure)
    return failing.mock(side_effect=failure)


# Each test below goes through all 8 operations with one client (of each kind): building a
# client per (operation, failure) would cost seconds for nothing.


@pytest.mark.parametrize(
    ("failure", "error", "retried_read", "retried_submit"),
    [f[1:] for f in FAILURES],
    ids=[f[0] for f in FAILURES],
)
async def test_each_failure_is_retried_as_the_operation_allows(
    caller: Caller,
    mock: respx.MockRouter,
    clock: FakeClock,
    failure: Any,
    error: type[LmmsEvalError],
    retried_read: bool,
    retried_submit: bool,
) -> None:
    routes = {name: fail_with(route(mock, name), failure) for name in OPERATIONS}
    for name, failing in routes.items():
        clock.sleeps.clear()
        sent_before = mock.calls.call_count
        with pytest.raises(LmmsEvalError) as info:
            await call(caller, name)
        retried = retried_submit if name in SUBMISSIONS else retried_read
        attempts = 1 + DEFAULT_MAX_RETRIES if retried else 1
        assert documented_type(info.value) is error, name
        assert failing.call_count == attempts, name
        assert len(clock.sleeps) == attempts - 1, name
        # nothing else was sent (no reconciling GET after a failed cancel)
        assert mock.calls.call_count - sent_before == attempts, name
        if isinstance(info.value, APIConnectionError):
            sent = not isinstance(failure, tuple(NOT_SENT))
            assert info.value.may_have_been_sent is sent, name
            hinted = "may have reached the server" in str(info.value)
            assert hinted is (sent and name in SUBMISSIONS), name
            if hinted:  # what to check, for the operation it was
                check = "get_queue_status()" if name == "evaluate" else "never enters the queue"
                assert check in str(info.value), name


async def test_success_after_failures(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    """Two failures each operation may retry, then the answer: it is returned."""
    for name, (*_, body) in OPERATIONS.items():
        clock.sleeps.clear()
        first = httpx.ConnectError("refused")
        second = httpx.ConnectTimeout("slow") if name in SUBMISSIONS else httpx.ReadTimeout("slow")
        answered = route(mock, name).mock(
            side_effect=[first, second, httpx.Response(200, json=body)]
        )
        result = await call(caller, name)
        assert result is not None, name
        assert answered.call_count == 3, name
        assert len(clock.sleeps) == 2, name


@pytest.mark.parametrize("max_retries", [0, 1, 5])
async def test_max_retries_sets_the_number_of_attempts(
    make_caller: Any, mock: respx.MockRouter, clock: FakeClock, max_retries: int
) -> None:
    caller = make_caller("http://lmms.test", max_retries=max_retries)
    for name in OPERATIONS:
        clock.sleeps.clear()
        refused = route(mock, name).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(APIConnectionError):
            await call(caller, name)
        assert refused.call_count == 1 + max_retries, name
        assert len(clock.sleeps) == max_retries, name


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), failure_response(503)], ids=repr)
async def test_max_retries_0_disables_every_retry(
    make_caller: Any, mock: respx.MockRouter, clock: FakeClock, failure: Any
) -> None:
    caller = make_caller("http://lmms.test", max_retries=0)
    for name in ("health", "get_job", "cancel_job"):
        failing = route(mock, name)
        failing.mock(return_value=failure) if isinstance(failure, httpx.Response) else (
            failing.mock(side_effect=failure)
        )
        with pytest.raises(LmmsEvalError):
            await call(caller, name)
        assert failing.call_count == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("jitter", "schedule"),
    [(0.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]), (1.0, [0.375, 0.75, 1.5, 3.0, 6.0, 6.0])],
)
async def test_backoff_schedule_seen_by_the_client(
    make_caller: Any, mock: respx.MockRouter, clock: FakeClock, jitter: float, schedule: list[float]
) -> None:
    caller = make_caller("http://lmms.test", max_retries=6)
    caller.client._retry = dataclasses.replace(caller.client._retry, random=lambda: jitter)
    mock.get("/health").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        await caller.health()
    assert clock.sleeps == schedule


@pytest.mark.parametrize(
    ("header", "sleeps"),
    [
        ("7", [7.0, 7.0]),
        (DATE, [10.0, 10.0]),
        ("3600", [MAX_RETRY_AFTER, MAX_RETRY_AFTER]),
        ("garbage", [0.5, 1.0]),
    ],
    ids=["seconds", "http-date", "capped", "garbage"],
)
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(
    caller: Caller,
    mock: respx.MockRouter,
    clock: FakeClock,
    status: int,
    header: str,
    sleeps: list[float],
) -> None:
    caller.client._retry = dataclasses.replace(
        caller.client._retry, random=lambda: 0.0, now=lambda: NOW
    )
    busy = mock.get("/queue").respond(status, headers={"Retry-After": header}, json={})
    with pytest.raises(APIStatusError) as info:
        await caller.get_queue_status()
    assert info.value.status_code == status
    assert busy.call_count == 3
    assert clock.sleeps == sleeps


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
async def test_retry_after_does_not_retry_a_submission(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock, name: str
) -> None:
    busy = route(mock, name).respond(429, headers={"Retry-After": "1"}, json={"detail": "slow"})
    with pytest.raises(RateLimitError):
        await call(caller, name)
    assert busy.call_count == 1
    assert clock.sleeps == []


async def test_a_submission_is_retried_until_it_is_sent_then_never(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    """Refused (not sent): retried. Then the answer is lost (maybe sent): not retried."""
    submit = mock.post("/evaluate").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ReadTimeout("lost")]
    )
    with pytest.raises(APITimeoutError) as info:
        await caller.evaluate("m", ["t"])
    assert submit.call_count == 2
    assert len(clock.sleeps) == 1
    assert info.value.may_have_been_sent is True
    assert "may have reached the server" in str(info.value)


# ----------------------------------------------------------------------------------------
# A retried cancel whose first attempt may have done it
# ----------------------------------------------------------------------------------------

ALREADY = {"detail": "Job already finished or cancelled"}
RUNNING = {"detail": "Cannot cancel a running job"}
PATH = f"/jobs/{JOB_ID}"


async def test_cancel_done_by_a_lost_first_attempt_is_success(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    delete = mock.delete(PATH).mock(
        side_effect=[httpx.ReadTimeout("lost"), httpx.Response(400, json=ALREADY)]
    )
    get = mock.get(PATH).respond(200, json=job_json("cancelled"))
    done = await caller.cancel_job(JOB_ID)
    assert isinstance(done, CancelResponse)
    assert done.message == f"Job {JOB_ID} cancelled"  # what the server says to a cancel
    assert delete.call_count == 2
    assert get.call_count == 1
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("status", ["failed", "completed", "running", "queued"])
async def test_cancel_of_a_job_that_is_not_cancelled_still_fails(
    caller: Caller, mock: respx.MockRouter, status: str
) -> None:
    mock.delete(PATH).mock(
        side_effect=[httpx.ReadTimeout("lost"), httpx.Response(400, json=ALREADY)]
    )
    get = mock.get(PATH).respond(200, json=job_json(status))
    with pytest.raises(BadRequestError) as info:
        await caller.cancel_job(JOB_ID)
    assert info.value.detail == ALREADY["detail"]
    assert get.call_count == 1


async def test_cancel_of_a_running_job_after_a_retry_fails(
    caller: Caller, mock: respx.MockRouter
) -> None:
    mock.delete(PATH).mock(
        side_effect=[httpx.ReadError("reset"), httpx.Response(400, json=RUNNING)]
    )
    mock.get(PATH).respond(200, json=job_json("running"))
    with pytest.raises(BadRequestError, match="Cannot cancel a running job"):
        await caller.cancel_job(JOB_ID)


async def test_cancel_refused_at_once_is_not_reconciled(
    caller: Caller, mock: respx.MockRouter
) -> None:
    """No retry, no doubt: the 400 is the answer, and no GET is sent."""
    delete = mock.delete(PATH).respond(400, json=ALREADY)
    get = mock.get(PATH).respond(200, json=job_json("cancelled"))
    with pytest.raises(BadRequestError):
        await caller.cancel_job(JOB_ID)
    assert delete.call_count == 1
    assert get.call_count == 0


async def test_cancel_retried_then_not_found(caller: Caller, mock: respx.MockRouter) -> None:
    mock.delete(PATH).mock(
        side_effect=[httpx.ReadTimeout("lost"), httpx.Response(404, json={"detail": "gone"})]
    )
    with pytest.raises(JobNotFoundError):
        await caller.cancel_job(JOB_ID)


# ----------------------------------------------------------------------------------------
# wait_for_job and the retries of its polls
# ----------------------------------------------------------------------------------------


async def test_wait_rides_out_every_transient_failure(
    make_caller: Any, mock: respx.MockRouter, clock: FakeClock
) -> None:
    caller = make_caller("http://lmms.test", max_retries=0)  # each failure is a setback
    polls = mock.get(PATH).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("disconnected"),
            failure_response(429),
            failure_response(502),
            failure_response(503),
            failure_response(504),
            httpx.Response(200, json=job_json("completed")),
        ]
    )
    job = await caller.wait_for_job(JOB_ID, poll_interval=2, timeout=100, verbose=False)
    assert job.status == "completed"
    assert polls.call_count == 8
    assert clock.sleeps == [0.25, 0.5, 1, 2, 2, 2, 2]  # the wait's pauses, not retries


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (failure_response(500), InternalServerError),
        (failure_response(401), AuthenticationError),
        (httpx.Response(404, json={"detail": "Job not found"}), JobNotFoundError),
        (httpx.Response(200, text="<html>login</html>"), LmmsEvalError),
    ],
    ids=["500", "401", "404", "html-200"],
)
async def test_wait_stops_on_a_failure_that_is_not_transient(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock, failure: Any, error: type
) -> None:
    polls = mock.get(PATH).mock(
        side_effect=[httpx.Response(200, json=job_json("running")), failure]
    )
    with pytest.raises(error):
        await caller.wait_for_job(JOB_ID, poll_interval=2, timeout=100, verbose=False)
    assert polls.call_count == 2
    assert clock.sleeps == [0.25]


async def test_wait_through_an_outage_times_out_with_the_last_failure(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    mock.get(PATH).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(WaitTimeoutError) as info:
        await caller.wait_for_job(JOB_ID, poll_interval=5, timeout=20, verbose=False)
    assert info.value.job is None
    assert "no poll succeeded" in str(info.value)
    assert "last poll failed" in str(info.value)
    assert isinstance(info.value.__cause__, APIConnectionError)


async def test_wait_deadline_bounds_the_retry_sleeps(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    """A 503 with 'Retry-After: 3600' must not hold a wait of 5 s for 2 x 60 s."""
    polls = mock.get(PATH).respond(503, headers={"Retry-After": "3600"}, json={"detail": "busy"})
    start = clock.now
    with pytest.raises(WaitTimeoutError) as info:
        await caller.wait_for_job(JOB_ID, poll_interval=1, timeout=5, verbose=False)
    assert clock.now - start == 5
    assert clock.sleeps == [5]  # the retry's 60 s, cut to the time left
    assert polls.call_count == 2
    assert isinstance(info.value.__cause__, InternalServerError)


async def test_wait_timeout_0_checks_once_despite_retries(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    polls = mock.get(PATH).respond(503, json={"detail": "busy"})
    with pytest.raises(WaitTimeoutError):
        await caller.wait_for_job(JOB_ID, timeout=0, verbose=False)
    assert polls.call_count == 1
    assert clock.sleeps == []


async def test_retries_outside_a_wait_are_not_bounded_by_any_deadline(
    caller: Caller, mock: respx.MockRouter, clock: FakeClock
) -> None:
    busy = mock.get(PATH).respond(503, headers={"Retry-After": "3600"}, json={"detail": "busy"})
    with pytest.raises(InternalServerError):
        await caller.get_job(JOB_ID)
    assert busy.call_count == 3
    assert clock.sleeps == [MAX_RETRY_AFTER, MAX_RETRY_AFTER]


@pytest.mark.parametrize("where", ["call", "client"])
async def test_a_retry_is_never_waited_for_longer_than_the_calls_timeout(
    make_caller: Any, mock: respx.MockRouter, clock: FakeClock, where: str
) -> None:
    # Before: health(timeout=1) against a 429 saying Retry-After: 10**9 slept 2 x 60 s.
    busy = mock.get(PATH).respond(429, headers={"Retry-After": "1000000000"}, json={})
    caller = make_caller("http://lmms.test", **({"timeout": 1} if where == "client" else {}))
    with pytest.raises(RateLimitError):
        await caller.get_job(JOB_ID, **({"timeout": 1} if where == "call" else {}))
    assert busy.call_count == 1 and clock.sleeps == []
    mock.get(PATH).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=job_json("running"))]
    )
    assert (await caller.get_job(JOB_ID, timeout=1)).status == "running"  # a short backoff: waited
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= 8  # the backoff is still waited


def test_backoff_is_capped_for_a_thousand_retries() -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    assert [policy.backoff(n) for n in range(1024)][4:] == [MAX_BACKOFF] * 1020


# 0.5 * 2.0**1025 overflows: the backoff of a client with max_retries > 1024 once raised
# a raw OverflowError in the middle of a long outage (fixed in 625bdc3).


@pytest.mark.parametrize("retries_done", [1023, 1024, 1025, 10**6])
def test_backoff_of_a_very_late_retry_is_capped(retries_done: int) -> None:
    assert RetryPolicy(random=lambda: 0.0).backoff(retries_done) == MAX_BACKOFF


@pytest.mark.slow
async def test_many_retries_end_with_a_typed_error(
    make_caller: Any, mock: respx.MockRouter, clock: FakeClock
) -> None:
    caller = make_caller("http://lmms.test", max_retries=1100)
    refused = mock.get("/health").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        await caller.health()
    assert refused.call_count == 1101
    assert 0.75 * MAX_BACKOFF <= clock.sleeps[-1] <= MAX_BACKOFF
