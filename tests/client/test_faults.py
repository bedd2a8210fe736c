"""Fault injection over loopback sockets, both clients: a proxy answering 502 pages, a server
that stalls, connection resets, refused connections, and answers lost after the server
did the work. Each test says how many jobs the server holds afterwards.

The clients' sleeps go through a Sleeper (recorded, at most 10 ms for real): a test never
waits out a backoff, yet every request is real.
"""

from __future__ import annotations

import logging
import math
import time

import httpx
import pytest

from lmms_eval_client import (
    DEFAULT_TIMEOUT,
    APIConnectionError,
    APITimeoutError,
    AsyncEvalClient,
    BadRequestError,
    CancelResponse,
    EvalClient,
    InternalServerError,
    LmmsEvalError,
    WaitTimeoutError,
)
from lmms_eval_client.testing import LocalServer

from ..faults import (
    Close,
    ForwardThenDrop,
    Reset,
    Script,
    Seen,
    Stall,
    html_502,
    job_count,
    on,
    proxy,
)
from ..servers import poll_until
from ..support import QWEN, MakeClient, NetCaller

SUBMITTED_HINT = "may have reached the server"
CHECK_HINT = "get_queue_status()"


def requests_to(seen: list[Seen], method: str, prefix: str = "/") -> list[Seen]:
    return [s for s in seen if s.method == method and s.target.startswith(prefix.encode())]


async def submit(caller: NetCaller, duration: float = 5.0, **kwargs: object) -> str:
    job = await caller.evaluate(
        "qwen2_vl", ["mme"], model_args={**QWEN, "sim_duration": duration}, **kwargs
    )
    return str(job.job_id)


# ----------------------------------------------------------------------------------------
# A proxy answering 502 HTML pages
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("failures", [1, 2])
async def test_502_pages_then_the_real_answer(
    make_client: MakeClient, local_server: LocalServer, failures: int
) -> None:
    rule = Script(*[html_502()] * failures, match=on("GET", "/queue"))
    with proxy(local_server.url, rule) as p:
        caller = make_client(p.url)  # default max_retries=2
        queue = await caller.get_queue_status()
        assert queue.queue_size == 0
        assert [s.action for s in requests_to(p.seen, "GET")] == ["respond"] * failures + [
            "forward"
        ]
    assert len(caller.sleeper.delays) == failures
    for retry, delay in enumerate(caller.sleeper.delays):
        assert 0.75 * 0.5 * 2**retry <= delay <= 0.5 * 2**retry  # backoff with jitter


async def test_more_502_pages_than_retries_is_internal_server_error(
    make_client: MakeClient, local_server: LocalServer
) -> None:
    rule = Script(*[html_502()] * 3, match=on("GET", "/jobs/"))
    with proxy(local_server.url, rule) as p:
        caller = make_client(p.url)
        job_id = await submit(caller)
        with pytest.raises(InternalServerError) as info:
            await caller.get_job(job_id)
        assert len(requests_to(p.seen, "GET", "/jobs/")) == 3  # 1 + max_retries
    assert info.value.status_code == 502
    assert "502 Bad Gateway" in str(info.value)
    assert job_count(local_server.url) == 1


@pytest.mark.parametrize(("method", "path"), [("evaluate", "/evaluate"), ("merge", "/merge")])
async def test_502_on_a_submission_is_not_retried(
    make_client: MakeClient, local_server: LocalServer, method: str, path: str
) -> None:
    with proxy(local_server.url, Script(then=html_502(), match=on("POST"))) as p:
        caller = make_client(p.url, max_retries=5)
        with pytest.raises(InternalServerError) as info:
            if method == "evaluate":
                await submit(caller)
            else:
                await caller.merge_checkpoint("/ck")
        assert len(requests_to(p.seen, "POST", path)) == 1
    assert info.value.status_code == 502
    assert caller.sleeper.delays == []
    assert job_count(local_server.url) == 0  # the proxy never forwarded it


async def test_wait_for_job_rides_out_502_pages(
    make_client: MakeClient, local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="lmms_eval_client")
    rule = Script(*[html_502()] * 4, match=on("GET", "/jobs/"))
    with proxy(local_server.url, rule) as p:
        caller = make_client(p.url, max_retries=0)  # every 502 is a setback of the wait
        job_id = await submit(caller, duration=0.2)
        job = await caller.wait_for_job(job_id, poll_interval=0.02, timeout=30, verbose=False)
        assert len(requests_to(p.seen, "GET", "/jobs/")) >= 5
    assert job.status == "completed"
    setback, back = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert job_id in setback and "502" in setback  # four pages alike: said once
    assert back == f"Waiting for job {job_id}: polls work again"
    assert job_count(local_server.url) == 1


# ----------------------------------------------------------------------------------------
# A server that stalls
# ----------------------------------------------------------------------------------------


async def test_default_timeout_is_finite() -> None:
    """The stall tests use a short timeout; the default one fires too, only later."""
    for client in (EvalClient("http://127.0.0.1:9"), AsyncEvalClient("http://127.0.0.1:9")):
        timeout = client._http.timeout
        assert timeout == DEFAULT_TIMEOUT == httpx.Timeout(60.0, connect=10.0)
        for phase in (timeout.connect, timeout.read, timeout.write, timeout.pool):
            assert phase is not None
            assert math.isfinite(phase)
            assert 0 < phase <= 60
        if isinstance(client, EvalClient):
            client.close()
        else:
            await client.close()


async def test_stalled_server_raises_a_timeout_not_a_hang(make_client: MakeClient) -> None:
    with proxy(None, Script(then=Stall())) as p:
        caller = make_client(p.url, timeout=0.3, max_retries=1)
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await caller.get_queue_status()
        elapsed = time.monotonic() - started
        assert len(p.wait_for(lambda seen: len(seen) == 2)) == 2  # retried once on the timeout
    assert 0.6 <= elapsed < 5
    assert isinstance(info.value, httpx.TimeoutException)
    assert info.value.may_have_been_sent is True
    assert "/queue" in str(info.value)


async def test_stalled_evaluate_times_out_and_is_not_retried(
    make_client: MakeClient, local_server: LocalServer
) -> None:
    with proxy(local_server.url, Script(then=Stall(), match=on("POST", "/evaluate"))) as p:
        caller = make_client(p.url, timeout=0.3, max_retries=3)
        with pytest.raises(APITimeoutError) as info:
            await submit(caller)
        assert len(requests_to(p.seen, "POST", "/evaluate")) == 1
    exc = info.value
    assert exc.may_have_been_sent is True
    assert SUBMITTED_HINT in str(exc)
    assert CHECK_HINT in str(exc)
    assert caller.sleeper.delays == []
    assert job_count(local_server.url) == 0  # stalled before it was forwarded


async def test_wait_for_job_on_a_stalled_server_ends_at_its_deadline(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lmms_eval_client")
    with proxy(None, Script(then=Stall())) as p:
        caller = make_client(p.url, timeout=0.2, max_retries=0)
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as info:
            await caller.wait_for_job("job-1", poll_interval=0.05, timeout=0.5, verbose=False)
        elapsed = time.monotonic() - started
        assert len(p.seen) >= 2
    assert 0.5 <= elapsed < 3
    assert info.value.job is None  # no poll succeeded
    assert "last poll failed" in str(info.value)
    assert isinstance(info.value.__cause__, APITimeoutError)
    assert len(caplog.records) == 1  # each poll timed out alike: said once


# ----------------------------------------------------------------------------------------
# Connection resets and closes
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Reset(), Close()], ids=["rst", "fin"])
@pytest.mark.parametrize("failures", [1, 2])
async def test_get_is_retried_after_a_dropped_connection(
    make_client: MakeClient, local_server: LocalServer, fault: Reset | Close, failures: int
) -> None:
    with proxy(local_server.url, Script(*[fault] * failures, match=on("GET", "/jobs/"))) as p:
        caller = make_client(p.url)
        job_id = await submit(caller)
        job = await caller.get_job(job_id)
        assert len(requests_to(p.seen, "GET", "/jobs/")) == failures + 1
    assert job.job_id == job_id
    assert len(caller.sleeper.delays) == failures
    assert job_count(local_server.url) == 1


async def test_resets_beyond_the_retries_raise_connection_error(
    make_client: MakeClient, local_server: LocalServer
) -> None:
    with proxy(local_server.url, Script(then=Reset(), match=on("GET", "/health"))) as p:
        caller = make_client(p.url, max_retries=2)
        with pytest.raises(APIConnectionError) as info:
            await caller.health()
        assert len(requests_to(p.seen, "GET", "/health")) == 3
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.may_have_been_sent is True
    assert await caller.is_healthy() is False


@pytest.mark.parametrize("fault", [Reset(), Close()], ids=["rst", "fin"])
async def test_evaluate_dropped_before_the_server_is_not_retried(
    make_client: MakeClient, local_server: LocalServer, fault: Reset | Close
) -> None:
    with proxy(local_server.url, Script(fault, match=on("POST", "/evaluate"))) as p:
        caller = make_client(p.url, max_retries=5)
        with pytest.raises(APIConnectionError) as info:
            await submit(caller)
        assert len(requests_to(p.seen, "POST", "/evaluate")) == 1
    assert info.value.may_have_been_sent is True  # the client cannot know it was not
    assert SUBMITTED_HINT in str(info.value)
    assert caller.sleeper.delays == []
    assert job_count(local_server.url) == 0


# ----------------------------------------------------------------------------------------
# Connection refused: never sent, so retried for every operation
# ----------------------------------------------------------------------------------------


async def test_refused_evaluate_is_retried_and_submits_once(
    make_client: MakeClient, local_server: LocalServer
) -> None:
    with proxy(local_server.url) as p:
        p.down()
        caller = make_client(p.url, max_retries=2)
        caller.sleeper.hook = lambda delay: p.up()  # back before the first retry
        job_id = await submit(caller)
        assert len(requests_to(p.seen, "POST", "/evaluate")) == 1
    assert len(caller.sleeper.delays) == 1
    assert job_count(local_server.url) == 1
    assert (await make_client(local_server.url).get_job(job_id)).job_id == job_id


@pytest.mark.parametrize("operation", ["evaluate", "get_job", "cancel_job", "merge"])
async def test_refused_connections_exhaust_the_retries(
    make_client: MakeClient, local_server: LocalServer, operation: str
) -> None:
    with proxy(local_server.url) as p:
        p.down()
        caller = make_client(p.url, max_retries=2)
        with pytest.raises(APIConnectionError) as info:
            if operation == "evaluate":
                await submit(caller)
            elif operation == "merge":
                await caller.merge_checkpoint("/ck")
            else:
                await getattr(caller, operation)("job-1")
        assert p.seen == []
    exc = info.value
    assert exc.may_have_been_sent is False
    assert SUBMITTED_HINT not in str(exc)
    assert "Is the server running" in str(exc)
    assert len(caller.sleeper.delays) == 2
    assert job_count(local_server.url) == 0


# ----------------------------------------------------------------------------------------
# The answer is lost after the server did the work
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reset", [True, False], ids=["rst", "fin"])
async def test_lost_evaluate_answer_leaves_exactly_one_job(
    make_client: MakeClient, local_server: LocalServer, reset: bool
) -> None:
    rule = Script(ForwardThenDrop(reset=reset), match=on("POST", "/evaluate"))
    with proxy(local_server.url, rule) as p:
        caller = make_client(p.url, max_retries=5)
        with pytest.raises(APIConnectionError) as info:
            await submit(caller)
        assert len(requests_to(p.seen, "POST", "/evaluate")) == 1
        # the advice of the message works: the queue shows the job
        queue = await caller.get_queue_status()
    exc = info.value
    assert exc.may_have_been_sent is True
    assert SUBMITTED_HINT in str(exc)
    assert CHECK_HINT in str(exc)
    assert "/evaluate" in str(exc)
    assert caller.sleeper.delays == []
    assert queue.running_job is not None
    assert job_count(local_server.url) == 1


async def test_lost_merge_answer_is_not_retried(
    make_client: MakeClient, local_server: LocalServer
) -> None:
    with proxy(local_server.url, Script(ForwardThenDrop(), match=on("POST", "/merge"))) as p:
        caller = make_client(p.url, max_retries=5)
        with pytest.raises(APIConnectionError) as info:
            await caller.merge_checkpoint("/ck")
        assert len(requests_to(p.seen, "POST", "/merge")) == 1
    assert info.value.may_have_been_sent is True
    assert SUBMITTED_HINT in str(info.value)


async def test_lost_cancel_answer_is_reconciled(
    make_client: MakeClient, local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lmms_eval_client")
    with proxy(local_server.url, Script(ForwardThenDrop(), match=on("DELETE"))) as p:
        caller = make_client(p.url)
        await submit(caller, duration=30)  # runs: the next one stays queued
        queued = await submit(caller)
        done = await caller.cancel_job(queued)
        deletes = requests_to(p.seen, "DELETE")
    assert isinstance(done, CancelResponse)
    assert done.message == f"Job {queued} cancelled"
    assert [d.action for d in deletes] == ["forward-then-drop", "forward"]
    job = await make_client(local_server.url).get_job(queued)
    assert job.status == "cancelled"
    assert "earlier attempt" in caplog.text
    assert job_count(local_server.url) == 1  # the running one; a cancelled job is not counted


async def test_lost_cancel_answer_of_a_running_job_still_fails(
    make_client: MakeClient, local_server: LocalServer
) -> None:
    with proxy(local_server.url, Script(ForwardThenDrop(), match=on("DELETE"))) as p:
        caller = make_client(p.url)
        running = await submit(caller, duration=30)
        await poll_until(
            lambda: caller.get_job(running), lambda job: job.status == "running", what="running"
        )
        with pytest.raises(BadRequestError) as info:
            await caller.cancel_job(running)
        assert len(requests_to(p.seen, "DELETE")) == 2
    assert "Cannot cancel a running job" in str(info.value)
    assert job_count(local_server.url) == 1


# ----------------------------------------------------------------------------------------
# Secrets through all of it
# ----------------------------------------------------------------------------------------

SECRET = "sk-live-0123456789abcdef"


async def test_api_key_never_shown_while_faults_happen(
    make_client: MakeClient, local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx's, httpcore's
    rule = Script(html_502(), Reset(), Close(), ForwardThenDrop(), Stall(), match=lambda seen: True)
    errors: list[LmmsEvalError] = []
    with proxy(local_server.url, rule) as p:
        caller = make_client(p.url, api_key=SECRET, timeout=0.3, max_retries=0)
        for call in (caller.health, caller.get_queue_status, caller.list_models):
            with pytest.raises(LmmsEvalError) as info:
                await call()
            errors.append(info.value)
        with pytest.raises(LmmsEvalError) as info:
            await submit(caller)  # lost answer
        errors.append(info.value)
        with pytest.raises(LmmsEvalError) as info:
            await caller.wait_for_job("job-1", poll_interval=0.01, timeout=0, verbose=False)
        errors.append(info.value)
        assert all(s.headers["authorization"] == f"Bearer {SECRET}" for s in p.seen)
    assert len(errors) == 5
    assert SECRET not in repr(caller.client)
    for exc in errors:
        assert SECRET not in str(exc)
        assert SECRET not in repr(exc)
        assert SECRET not in str(exc.__cause__)
    assert caplog.records
    assert SECRET not in caplog.text
