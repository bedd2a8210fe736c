"""The time budget over real sockets, both clients: the client's ``timeout`` bounds a whole
request however slowly the server drips its answer, and a wait's deadline bounds the poll
in flight, even without a client timeout.

Each call runs with an outer bound (the expected time plus 3 s): a client that overshoots
fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from typing import Any

import httpx
import pytest

from lmms_eval_client import (
    APITimeoutError,
    AsyncEvalClient,
    EvalClient,
    JobInfo,
    WaitTimeoutError,
)

from ..faults import Drip, Script, Stall, http_response, on, proxy, respond
from ..support import MINIMAL_REQUESTS, MakeClient, NetCaller, job_json

pytestmark = MINIMAL_REQUESTS

MARGIN = 3.0  # what a bound may be overshot by in these tests (scheduling, a slow CI box)
# The client's time budget in these tests, and the drip's interval: a byte every quarter of
# the budget, so no per-read timeout would notice; only the budget of the whole request can.
BUDGET = 0.8
DRIP_INTERVAL = BUDGET / 4
EARLY = 0.05  # what a measured elapsed time may fall short of its bound (clock granularity)
JOB = json.dumps(job_json("running", job_id="job-1")).encode()
ANSWER = http_response(200, JOB)
HEAD, BODY = ANSWER.split(b"\r\n\r\n", 1)
# Headers at once, then the body one byte every DRIP_INTERVAL: never BUDGET without a byte.
BODY_DRIP = Drip(BODY, interval=DRIP_INTERVAL, prefix=HEAD + b"\r\n\r\n")
# Everything, the status line included, one byte every DRIP_INTERVAL.
HEADER_DRIP = Drip(ANSWER, interval=DRIP_INTERVAL)


async def bounded(call: Any, limit: float, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Run ``call`` (a sync or async client method); its outcome (result or exception) and
    how long it took. Fails the test when it is still running after ``limit`` seconds."""
    started = time.monotonic()
    future: asyncio.Future[Any]
    if asyncio.iscoroutinefunction(call):
        future = asyncio.ensure_future(call(*args, **kwargs))
    else:
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(call(*args, **kwargs))
            except BaseException as exc:
                done.set_exception(exc)

        threading.Thread(target=run, daemon=True).start()  # ends when the proxy stops
        future = asyncio.wrap_future(done)
    finished, _ = await asyncio.wait({future}, timeout=limit)
    elapsed = time.monotonic() - started
    if not finished:
        future.cancel()
        pytest.fail(f"{getattr(call, '__name__', call)} was still running after {limit:g} s")
    exc = future.exception()
    return (exc if exc is not None else future.result()), elapsed


def method(caller: NetCaller, name: str) -> Any:
    return getattr(caller.client, name)


@pytest.mark.parametrize("drip", [BODY_DRIP, HEADER_DRIP], ids=["body", "headers"])
@pytest.mark.slow
async def test_a_dripping_answer_ends_within_the_client_timeout(
    make_client: MakeClient, drip: Drip
) -> None:
    with proxy(None, Script(drip, then=respond(200, JOB))) as p:
        caller = make_client(p.url, timeout=BUDGET, max_retries=0)
        outcome, elapsed = await bounded(method(caller, "get_job"), BUDGET + MARGIN, "job-1")
        assert isinstance(outcome, APITimeoutError), outcome
        assert isinstance(outcome, httpx.TimeoutException)
        assert outcome.may_have_been_sent is True
        assert elapsed >= BUDGET - EARLY
        # The connection of the cut-off request is not reused: the next call just works.
        job = await caller.get_job("job-1")
        assert isinstance(job, JobInfo)
        assert len(p.seen) == 2


@pytest.mark.slow
async def test_each_attempt_gets_the_whole_budget(make_client: MakeClient) -> None:
    """The timeout bounds one request; a read is retried on a timeout as before."""
    with proxy(None, Script(then=BODY_DRIP)) as p:
        caller = make_client(p.url, timeout=BUDGET / 2, max_retries=1)
        outcome, elapsed = await bounded(method(caller, "get_job"), BUDGET + MARGIN, "job-1")
        assert isinstance(outcome, APITimeoutError), outcome
        assert len(p.seen) == 2
    assert elapsed >= BUDGET - EARLY


async def test_a_dripping_answer_to_a_submission_is_a_timeout_that_may_have_created_a_job(
    make_client: MakeClient,
) -> None:
    submitted = json.dumps(
        {"job_id": "job-1", "status": "queued", "position_in_queue": 0, "message": "queued"}
    ).encode()
    head, body = http_response(200, submitted).split(b"\r\n\r\n", 1)
    drip = Drip(body, interval=DRIP_INTERVAL, prefix=head + b"\r\n\r\n")
    with proxy(None, Script(drip, match=on("POST", "/evaluate"))) as p:
        caller = make_client(p.url, timeout=BUDGET, max_retries=3)
        outcome, _ = await bounded(method(caller, "evaluate"), BUDGET + MARGIN, "m", ["t"])
        assert isinstance(outcome, APITimeoutError), outcome
        assert len(p.seen) == 1  # never sent twice
    assert outcome.may_have_been_sent is True
    assert "may have reached the server" in str(outcome)
    assert "get_queue_status()" in str(outcome)


@pytest.mark.slow
async def test_a_wait_deadline_bounds_the_poll_in_flight_without_a_client_timeout(
    make_client: MakeClient,
) -> None:
    with proxy(None, Script(then=Stall())) as p:
        caller = make_client(p.url, timeout=None)
        wait = method(caller, "wait_for_job")
        outcome, elapsed = await bounded(
            wait, BUDGET + MARGIN, "job-1", poll_interval=0.1, timeout=BUDGET, verbose=False
        )
        assert len(p.seen) >= 1
    assert isinstance(outcome, WaitTimeoutError), outcome
    assert isinstance(outcome.__cause__, APITimeoutError)
    assert elapsed >= BUDGET - EARLY


@pytest.mark.slow
async def test_a_wait_deadline_bounds_a_dripping_poll(make_client: MakeClient) -> None:
    with proxy(None, Script(then=BODY_DRIP)) as p:
        caller = make_client(p.url, timeout=BUDGET)
        wait = method(caller, "wait_for_job")
        outcome, elapsed = await bounded(
            wait,
            1.5 * BUDGET + MARGIN,
            "job-1",
            poll_interval=0.1,
            timeout=1.5 * BUDGET,
            verbose=False,
        )
    assert isinstance(outcome, WaitTimeoutError), outcome
    assert elapsed >= 1.5 * BUDGET - EARLY


async def test_check_once_still_gets_a_slow_answer(make_client: MakeClient) -> None:
    """timeout=0 checks once: the poll is given at least a second, not nothing."""
    done = http_response(200, json.dumps(job_json("completed", job_id="job-1")).encode())
    slow = Drip(done, interval=0.3, size=len(done) // 2 + 1)  # the second half after 0.3 s
    with proxy(None, Script(then=slow)) as p:
        caller = make_client(p.url)
        wait = method(caller, "wait_for_job")
        outcome, _ = await bounded(wait, 1 + MARGIN, "job-1", timeout=0, verbose=False)
    assert isinstance(outcome, JobInfo), outcome
    assert outcome.status == "completed"


@pytest.mark.parametrize("kind_", ["sync", "async"])
@pytest.mark.slow
async def test_an_injected_http_client_gets_the_budget_for_a_dripping_body(kind_: str) -> None:
    """Its own timeout becomes the budget (headers dripped to a sync one are not bounded)."""
    with proxy(None, Script(then=BODY_DRIP)) as p:
        if kind_ == "sync":
            with httpx.Client(base_url=p.url, timeout=BUDGET) as http:
                client = EvalClient(http_client=http, max_retries=0)
                outcome, elapsed = await bounded(client.get_job, BUDGET + MARGIN, "job-1")
        else:
            async with httpx.AsyncClient(base_url=p.url, timeout=BUDGET) as ahttp:
                aclient = AsyncEvalClient(http_client=ahttp, max_retries=0)
                outcome, elapsed = await bounded(aclient.get_job, BUDGET + MARGIN, "job-1")
    assert isinstance(outcome, APITimeoutError), outcome
    assert elapsed >= BUDGET - EARLY


def test_our_sync_pool_gives_each_socket_operation_only_the_time_left() -> None:
    """The header-drip test relies on it; this names the cause if an httpx upgrade breaks it."""
    with EvalClient("http://127.0.0.1:9") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert type(pool._network_backend).__name__ == "_DeadlineBackend"
