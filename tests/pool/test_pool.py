"""EvalPool and AsyncEvalPool over respx-mocked servers: where requests go, what is raised.

Each test runs with both pools. Retries are off (``max_retries=0``) and the pool's sleep
and clock are fake, so outages are sequenced by the order of the mocked answers.
"""

from __future__ import annotations

import copy
import inspect
import json
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from lmms_eval_client import (
    APIConnectionError,
    APIResponseValidationError,
    AsyncEvalClient,
    AsyncEvalPool,
    AuthenticationError,
    ClientClosedError,
    DiscoveryError,
    EvalClient,
    EvalPool,
    EvalRun,
    InternalServerError,
    InvalidArgumentError,
    JobFailedError,
    JobInfo,
    JobNotFoundError,
    JobStatus,
    LmmsEvalError,
    ModelNameWarning,
    NoServerAvailableError,
    ServerUnreachableError,
    WaitTimeoutError,
)

from .._errors import documented_type
from ..support import HEALTH_JSON, JOB_ID, SUBMIT_JSON, FakeClock, job_json

A, B = "http://a.test:8000", "http://b.test:8000"
QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
IDLE = {"queue_size": 0, "queued_jobs": [], "completed_jobs": 0, "failed_jobs": 0}
TASKS = {"tasks": ["mme", "mmmu_val"]}
MODELS = {"models": ["qwen2_vl"]}


class PoolCaller:
    """Calls a pool's methods as coroutines, whichever kind it is."""

    def __init__(self, pool: EvalPool | AsyncEvalPool) -> None:
        self.pool = pool

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.pool, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return call


@pytest.fixture
def mock() -> AsyncIterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def serve(mock: respx.MockRouter, base: str, *, queue: dict[str, Any] | None = None) -> None:
    """A healthy, idle server that offers the tasks and models above."""
    mock.get(f"{base}/health").respond(200, json=HEALTH_JSON)
    mock.get(f"{base}/queue").respond(200, json=queue or IDLE)
    mock.get(f"{base}/tasks").respond(200, json=TASKS)
    mock.get(f"{base}/models").respond(200, json=MODELS)


@pytest.fixture(params=["sync", "async"])
async def make_pool(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[Callable[..., PoolCaller]]:
    made: list[PoolCaller] = []

    def make(servers: Any = (A, B), **kwargs: Any) -> PoolCaller:
        kwargs.setdefault("max_retries", 0)
        cls = EvalPool if request.param == "sync" else AsyncEvalPool
        pool: Any = cls(list(servers) if isinstance(servers, tuple) else servers, **kwargs)
        pool._sleep = clock.sleep if request.param == "sync" else clock.asleep
        pool._clock = pool._servers._clock = clock
        made.append(PoolCaller(pool))
        return made[-1]

    yield make
    for caller in made:
        await caller.close()


# -- submissions: one server, never two -----------------------------------------------------


async def test_a_lost_answer_is_not_sent_elsewhere_and_names_the_server(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    serve(mock, A)
    serve(mock, B, queue={**IDLE, "running_job": "busy"})  # A is the idle one
    post_a = mock.post(f"{A}/evaluate").mock(side_effect=httpx.ReadTimeout("lost"))
    post_b = mock.post(f"{B}/evaluate").respond(200, json=SUBMIT_JSON)
    pool = make_pool()
    with pytest.raises(APIConnectionError) as info:
        await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    assert post_a.call_count == 1 and post_b.call_count == 0
    exc = info.value
    assert exc.may_have_been_sent
    assert A in str(exc) and "may have been carried out" in str(exc)
    assert exc.server == A  # type: ignore[attr-defined]
    assert isinstance(exc, httpx.ReadTimeout)  # still the class of its cause
    again = pickle.loads(pickle.dumps(exc))
    assert str(again) == str(exc) and again.server == A


async def test_a_submission_that_never_reached_a_server_goes_to_another(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    serve(mock, A)
    serve(mock, B, queue={**IDLE, "running_job": "busy"})
    post_a = mock.post(f"{A}/evaluate").mock(side_effect=httpx.ConnectError("refused"))
    post_b = mock.post(f"{B}/evaluate").respond(200, json=SUBMIT_JSON)
    pool = make_pool()
    job = await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    assert (post_a.call_count, post_b.call_count) == (1, 1)
    assert job.server == B and job.job_id == JOB_ID
    assert pool.pool.server_of(JOB_ID) == B
    assert pool.pool._servers.table.states[0].health == "down"


async def test_a_listing_that_failed_for_a_moment_keeps_what_the_server_said_before(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller], clock: FakeClock
) -> None:
    # An adversarial try: one 503 (or a timeout) of B's /tasks was kept as "B cannot say
    # what it offers" for the listing's whole TTL (600 s by default): B, the idle one, then
    # took jobs of tasks it had said it lacks, which failed ("Tasks not found").
    serve(mock, A, queue={**IDLE, "running_job": "busy"})
    mock.get(f"{A}/tasks").respond(200, json={"tasks": ["mme", "ai2d"]})
    serve(mock, B)
    tasks_b = mock.get(f"{B}/tasks").mock(
        side_effect=[httpx.Response(200, json={"tasks": ["mme"]}), httpx.Response(503)]
    )
    post_a = mock.post(f"{A}/evaluate").respond(200, json=SUBMIT_JSON)
    post_b = mock.post(f"{B}/evaluate").respond(200, json=SUBMIT_JSON)
    pool = make_pool(listing_ttl=10)
    await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)  # to B, the idle one
    clock.advance(11)  # B's listings are due: its /tasks answers 503 this time
    job = await pool.evaluate("qwen2_vl", ["ai2d"], model_args=QWEN)
    assert tasks_b.call_count == 2
    assert job.server == A and (post_a.call_count, post_b.call_count) == (1, 1)


@pytest.mark.parametrize("status", [503, 429])
async def test_a_server_that_refuses_a_submission_is_passed_over_for_the_next(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller], status: int
) -> None:
    # An adversarial try: A answered /health and /queue and refused every POST (a 503 or a
    # 429); never taking a job, it stayed the least loaded: 4 jobs of 5 failed, B idle.
    serve(mock, A)
    serve(mock, B, queue={**IDLE, "running_job": "busy"})
    post_a = mock.post(f"{A}/evaluate").respond(status, json={"detail": "busy"})
    post_b = mock.post(f"{B}/evaluate").respond(200, json=SUBMIT_JSON)
    pool = make_pool()
    with pytest.raises(LmmsEvalError):  # (not sent again: it may have reached A)
        await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    # (the review) A answering meanwhile, about another job, does not undo it
    mock.get(f"{A}/jobs/other").respond(200, json=job_json("running", job_id="other"))
    await pool.get_job("other", server=A)
    job = await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    assert job.server == B and (post_a.call_count, post_b.call_count) == (1, 1)
    assert str(status) in (pool.pool._servers.table.states[0].refused_why or "")  # (review)


@pytest.mark.slow
def test_a_run_over_a_pool_passes_over_a_server_that_refused_its_submission(
    mock: respx.MockRouter, tmp_path: Path
) -> None:
    # The second review: a run routes through the pool and sends through the server's own
    # client, so a server refusing every POST (503) kept being chosen for the run's jobs.
    serve(mock, A)
    serve(mock, B, queue={**IDLE, "running_job": "busy"})
    post_a = mock.post(f"{A}/evaluate").respond(503, json={"detail": "busy"})
    post_b = mock.post(f"{B}/evaluate").respond(200, json=SUBMIT_JSON)
    with EvalPool([A, B], max_retries=0) as pool, EvalRun(pool, tmp_path / "r.sqlite") as run:
        with pytest.raises(LmmsEvalError):
            run.submit("qwen2_vl", ["mme"], model_args=QWEN)
        refused = post_a.call_count  # (the run's own submission rule may send it again)
        job = run.submit("qwen2_vl", ["mme"], model_args=QWEN)
    assert job.server == B and (post_a.call_count, post_b.call_count) == (refused, 1)


async def test_a_cancel_whose_answer_was_lost_says_it_may_have_been_carried_out(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # An adversarial try: the error said "nothing was cancelled" of a job the server had
    # cancelled (its answer lost).
    pool = make_pool()
    pool.pool.adopt(JOB_ID, A)
    mock.delete(f"{A}/jobs/{JOB_ID}").mock(side_effect=httpx.ReadTimeout("lost"))
    with pytest.raises(ServerUnreachableError) as info:
        await pool.cancel_job(JOB_ID)
    assert info.value.may_have_been_sent and "may have been carried out" in str(info.value)


async def test_a_server_that_says_it_is_unhealthy_takes_no_job_after_health(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # An adversarial try: health() recorded a server answering {"status": "unhealthy"} as
    # up, and the probes before a choice skip the health check of a server up: it took
    # every job.
    serve(mock, A)
    mock.get(f"{A}/health").respond(200, json={**HEALTH_JSON, "status": "unhealthy"})
    serve(mock, B, queue={**IDLE, "running_job": "busy"})
    post_a = mock.post(f"{A}/evaluate").respond(200, json=SUBMIT_JSON)
    post_b = mock.post(f"{B}/evaluate").respond(200, json=SUBMIT_JSON)
    pool = make_pool()
    health = await pool.health()
    assert [s.healthy for s in health.servers] == [False, True]
    job = await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    assert job.server == B and (post_a.call_count, post_b.call_count) == (0, 1)


async def test_a_server_whose_health_check_fails_is_said_down_for_its_own_reason(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # An adversarial try: a bad API key (401), a 503 or a portal's HTML were all said
    # "down (it did not answer GET /health)": the probe kept a bool, not the error.
    for base in (A, B):
        mock.get(f"{base}/health").respond(401, json={"detail": "Invalid API key"})
    pool = make_pool()
    with pytest.raises(NoServerAvailableError) as info:
        await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    assert "AuthenticationError" in str(info.value) and "Invalid API key" in str(info.value)
    assert not await pool.is_healthy()
    assert "Invalid API key" in (pool.pool._servers.table.states[0].error or "")


async def test_a_listing_that_did_not_answer_is_not_asked_again_before_the_recheck(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller], clock: FakeClock
) -> None:
    # The review: a /models that answered cleared the cool-off of the /tasks that did not,
    # so every evaluate asked (and waited on) the failing /tasks again.
    serve(mock, A)
    tasks_a = mock.get(f"{A}/tasks").respond(503)
    mock.post(f"{A}/evaluate").respond(200, json=SUBMIT_JSON)
    pool = make_pool([A], recheck_interval=5)
    for _ in range(3):
        await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    assert tasks_a.call_count == 1
    clock.advance(6)
    await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    assert tasks_a.call_count == 2


async def test_no_server_available_says_why_for_each(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    serve(mock, A, queue={**IDLE, "running_job": "busy"})
    mock.get(f"{B}/health").mock(side_effect=httpx.ConnectError("refused"))
    pool = make_pool(max_jobs_per_server=1)
    with pytest.raises(NoServerAvailableError) as info:
        await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN)
    assert "at its cap of 1" in info.value.reasons[A]
    assert "GET /health" in info.value.reasons[B]
    assert all(call.request.method == "GET" for call in mock.calls)  # nothing was submitted
    again = copy.deepcopy(info.value)
    assert again.reasons == info.value.reasons and str(again) == str(info.value)
    with pytest.raises(NoServerAvailableError, match="does not offer task"):
        await pool.evaluate("qwen2_vl", ["no_such_task"], model_args=QWEN)


# -- jobs: asked where they are -------------------------------------------------------------


async def test_a_job_the_pool_never_saw_is_found_by_asking_every_server(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    on_a = mock.get(f"{A}/jobs/{JOB_ID}").respond(404, json={"detail": f"Job {JOB_ID} not found"})
    on_b = mock.get(f"{B}/jobs/{JOB_ID}").respond(200, json=job_json("running"))
    pool = make_pool()
    assert (await pool.get_job(JOB_ID)).status == JobStatus.RUNNING
    assert (await pool.get_job(JOB_ID)).status == JobStatus.RUNNING
    assert (on_a.call_count, on_b.call_count) == (1, 2)  # then asked where it is
    assert [(j.server, j.state) for j in pool.pool.jobs()] == [(B, "running")]


async def test_an_id_no_server_knows_is_not_found_not_lost(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    for base in (A, B):
        mock.get(f"{base}/jobs/{JOB_ID}").respond(404, json={"detail": "not found"})
    with pytest.raises(JobNotFoundError) as info:
        await make_pool().get_job(JOB_ID)
    assert documented_type(info.value) is JobNotFoundError
    assert A in str(info.value) and B in str(info.value)


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (httpx.Response(401, json={"detail": "bad key"}), AuthenticationError),
        (httpx.Response(500, json={"detail": "boom"}), InternalServerError),
        (httpx.Response(200, text="<html>portal</html>"), APIResponseValidationError),
    ],
    ids=["401", "500", "not-json"],
)
async def test_a_server_that_answers_an_error_about_an_unknown_job_says_it(
    mock: respx.MockRouter,
    make_pool: Callable[..., PoolCaller],
    answer: httpx.Response,
    raised: type[Exception],
) -> None:
    # An adversarial try: every answer but a 404 was taken for "did not answer", so a wait
    # (timeout=None) rode out a bad API key or a server's 500 forever; one server's client
    # raises them at once.
    mock.get(f"{A}/jobs/{JOB_ID}").mock(return_value=answer)
    mock.get(f"{B}/jobs/{JOB_ID}").respond(404, json={"detail": "not found"})
    pool = make_pool()
    with pytest.raises(raised) as info:
        await pool.get_job(JOB_ID)
    assert info.value.server == A  # type: ignore[attr-defined]
    with pytest.raises(raised):
        await pool.wait_for_job(JOB_ID, poll_interval=1, timeout=None, verbose=False)


async def test_a_servers_error_beside_a_server_that_does_not_answer_is_ridden_out(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # The review: B's 500 ended a wait while A, which may hold the job, was down. (A wait
    # with a deadline: without one, an id no server confirmed is not waited for.)
    mock.get(f"{A}/jobs/{JOB_ID}").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=job_json("completed"))]
    )
    mock.get(f"{B}/jobs/{JOB_ID}").respond(500, json={"detail": "boom"})
    pool = make_pool(recheck_interval=0)
    done = await pool.wait_for_job(JOB_ID, poll_interval=1, timeout=30, verbose=False)
    assert done.status == JobStatus.COMPLETED


@pytest.mark.parametrize("b_says", ["not found", "refused"])
async def test_a_wait_without_timeout_for_an_id_no_server_confirmed_raises(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller], clock: FakeClock, b_says: str
) -> None:
    # The adversarial try of the pool: wait_for_job(typo'd id) with no timeout polled
    # forever while a server was down ("no reachable server knows it" was taken for "its
    # server is known and down"); one client whose server is down raises at once.
    clock.MAX_SLEEPS = 20  # the bug: sleeps without end
    mock.get(f"{A}/jobs/{JOB_ID}").mock(side_effect=httpx.ConnectError("refused"))
    if b_says == "refused":
        mock.get(f"{B}/jobs/{JOB_ID}").mock(side_effect=httpx.ConnectError("refused"))
    else:
        mock.get(f"{B}/jobs/{JOB_ID}").respond(404, json={"detail": "not found"})
    pool = make_pool()
    with pytest.raises(ServerUnreachableError) as info:
        await pool.wait_for_job(JOB_ID, poll_interval=1, verbose=False)
    assert isinstance(info.value, APIConnectionError)
    assert f"No reachable server of the pool knows job {JOB_ID}" in str(info.value)
    assert clock.sleeps == []  # raised at the first poll, as one client does
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.server, again.job_id) == (A, JOB_ID)


async def test_a_wait_on_the_server_named_rides_out_its_outage_as_on_an_adopted_job(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller], clock: FakeClock
) -> None:
    # The review of the fix above: wait_for_job(id, server=A) with A down raised at the
    # first poll, while the caller had said where the job is (as adopt(id, A) says, whose
    # wait rides it out) and the error said "wait_for_job rides this out".
    mock.get(f"{A}/jobs/{JOB_ID}").mock(
        side_effect=[httpx.ConnectError("refused")] * 3
        + [httpx.Response(200, json=job_json("completed"))]
    )
    pool = make_pool()
    done = await pool.wait_for_job(JOB_ID, poll_interval=1, verbose=False, server=A)
    assert done.status == JobStatus.COMPLETED and len(clock.sleeps) == 3


async def test_a_404_from_a_server_that_never_took_the_job_is_not_lost(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # The adversarial try of the pool: get_job(id, server=<another server>) said the job was
    # lost and to submit it again (a second run of it), while the pool had it on A.
    pool = make_pool()
    pool.pool.adopt(JOB_ID, A)
    mock.get(f"{B}/jobs/{JOB_ID}").respond(404, json={"detail": f"Job {JOB_ID} not found"})
    with pytest.raises(JobNotFoundError) as info:
        await pool.get_job(JOB_ID, server=B)
    said = str(info.value)
    assert info.value.server == B and f"this pool saw it on {A}" in said
    assert "lost" not in said and "submit it again" not in said
    assert [(job.server, job.state) for job in pool.pool.jobs()] == [(A, "submitted")]
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.server, again.job_id) == (B, JOB_ID)


async def test_server_may_be_spelled_as_the_pool_takes_it_for_one(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # The adversarial try of the pool: a pool of http://127.0.0.1:P refused
    # server="http://localhost:P" ("is not a server of this pool"), though its constructor
    # takes the two for one server (and refuses both at once).
    local = "http://127.0.0.1:8000"
    mock.get(f"{local}/jobs/{JOB_ID}").respond(200, json=job_json("running"))
    pool = make_pool([local, B])
    for spelling in ("http://localhost:8000", "http://LOCALHOST:8000/", local):
        assert (await pool.get_job(JOB_ID, server=spelling)).status == JobStatus.RUNNING
    pool.pool.adopt(JOB_ID, "http://localhost:8000")
    assert pool.pool.server_of(JOB_ID) == local
    with pytest.raises(InvalidArgumentError, match="not a server of this pool"):
        await pool.get_job(JOB_ID, server="http://localhost:8001")


async def test_a_404_from_the_server_that_took_the_job_means_lost(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    pool = make_pool()
    pool.pool.adopt(JOB_ID, B)
    mock.get(f"{B}/jobs/{JOB_ID}").respond(404, json={"detail": f"Job {JOB_ID} not found"})
    with pytest.raises(JobNotFoundError) as info:
        await pool.get_job(JOB_ID)
    assert info.value.server == B and info.value.job_id == JOB_ID
    assert "restarted" in str(info.value)
    assert pool.pool.jobs()[0].state == "lost"
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.server, again.job_id, again.status_code) == (B, JOB_ID, 404)
    with pytest.raises(JobNotFoundError):
        await pool.wait_for_job(JOB_ID, poll_interval=1, verbose=False)


async def test_an_unreachable_server_makes_its_job_unreachable_not_lost(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    pool = make_pool()
    pool.pool.adopt(JOB_ID, A)
    mock.get(f"{A}/jobs/{JOB_ID}").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ServerUnreachableError) as info:
        await pool.get_job(JOB_ID)
    assert (info.value.server, info.value.job_id) == (A, JOB_ID)
    assert "not lost" in str(info.value)
    assert pool.pool.jobs()[0].state == "unreachable"
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.server, again.job_id, str(again)) == (A, JOB_ID, str(info.value))
    # new jobs go elsewhere, without asking the server that is down
    serve(mock, B)
    post_b = mock.post(f"{B}/evaluate").respond(200, json={**SUBMIT_JSON, "job_id": "j2"})
    assert (await pool.evaluate("qwen2_vl", "mme", model_args=QWEN)).server == B
    assert post_b.call_count == 1


async def test_an_unseen_id_while_every_server_is_known_down_asks_none(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # Found while making the sync pool ask its servers at once: with every server down and
    # not due for a recheck, no server is asked (and a pool of threads for none failed).
    for base in (A, B):
        mock.get(f"{base}/jobs/{JOB_ID}").mock(side_effect=httpx.ConnectError("refused"))
    pool = make_pool()
    for _ in range(2):  # the first marks both down, the second asks neither
        with pytest.raises(ServerUnreachableError):
            await pool.cancel_job(JOB_ID)
    assert mock.calls.call_count == 2


@pytest.mark.parametrize("timeout", [None, 30.0])
async def test_a_wait_rides_out_an_unreachable_server_until_it_answers(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller], timeout: float | None
) -> None:
    pool = make_pool()
    pool.pool.adopt(JOB_ID, A)
    refused = httpx.ConnectError("refused")
    mock.get(f"{A}/jobs/{JOB_ID}").mock(
        side_effect=[refused, refused, httpx.Response(200, json=job_json("completed"))]
    )
    done = await pool.wait_for_job(JOB_ID, poll_interval=1, timeout=timeout, verbose=False)
    assert done.status == JobStatus.COMPLETED
    assert pool.pool.jobs()[0].state == "completed"


async def test_a_wait_whose_deadline_passes_while_unreachable_says_so(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    pool = make_pool()
    pool.pool.adopt(JOB_ID, A)
    mock.get(f"{A}/jobs/{JOB_ID}").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(WaitTimeoutError) as info:
        await pool.wait_for_job(JOB_ID, poll_interval=1, timeout=3, verbose=False)
    assert isinstance(info.value.__cause__, ServerUnreachableError)
    assert "did not answer" in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        ("get_job", JOB_ID),
        ("cancel_job", JOB_ID),
        ("get_queue_status",),
        ("health",),
        ("is_healthy",),
        ("list_tasks",),
        ("evaluate", "qwen2_vl", "mme"),
    ],
    ids=lambda call: call[0],
)
async def test_a_bad_call_timeout_is_refused_before_any_server_is_asked(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller], call: tuple[str, ...]
) -> None:
    """Issue 19: the pool's timeout= is checked once, as the clients' is, before anything
    is sent (it went to the clients unchecked, as ambient state, where a refusal read as
    a server that did not answer)."""
    serve(mock, A)
    serve(mock, B)
    pool = make_pool()
    name, *args = call
    with pytest.raises(InvalidArgumentError, match="timeout"):
        await getattr(pool, name)(*args, timeout=-1)
    assert mock.calls.call_count == 0


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"model_args": "x"}, "model_args must be a mapping"),
        ({"limit": -5}, "limit must be"),
        ({"tasks": ["\ud800"]}, "task is not valid text"),
        ({"tasks": []}, "at least one task"),
        ({"tasks": [" , "]}, "must name a task"),  # (routing saw no task at all)
    ],
)
async def test_a_bad_argument_is_refused_before_any_server_is_asked(
    mock: respx.MockRouter,
    make_pool: Callable[..., PoolCaller],
    arguments: dict[str, Any],
    says: str,
) -> None:
    # Before: the pool asked every server first (/health, /queue, /tasks, /models) and said
    # NoServerAvailableError, quoting a surrogate task it could not print (an adversarial try).
    serve(mock, A)
    serve(mock, B)
    pool = make_pool()
    with pytest.raises(InvalidArgumentError, match=says):
        await pool.evaluate(**{"model": "qwen2_vl", "tasks": ["mme"], **arguments})
    assert mock.calls.call_count == 0


async def test_a_log_of_a_negative_number_of_lines_is_refused_before_any_server_is_asked(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    serve(mock, A)
    serve(mock, B)
    pool = make_pool()
    with pytest.raises(InvalidArgumentError, match="lines"):
        await pool.eval_log(JOB_ID, -1)
    async with AsyncEvalClient(A, max_retries=0) as client:
        with pytest.raises(InvalidArgumentError, match="lines"):
            await client.eval_log(JOB_ID, -1)
    assert mock.calls.call_count == 0  # (before: each asked for the job first)


async def test_a_warning_about_the_arguments_is_said_once_at_the_callers_line(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # Before: the pool checked the arguments, then the chosen server's client checked them
    # again and warned, pointing at the pool's own module instead of the caller's line.
    serve(mock, A)
    serve(mock, B)
    posted = mock.post(f"{A}/evaluate").respond(200, json=SUBMIT_JSON)
    pool = make_pool().pool
    with pytest.warns(ModelNameWarning) as said:
        sent = pool.evaluate("qwen2_vl", ["mme"], model_args={"revision": "main"})
        job = await sent if inspect.isawaitable(sent) else sent
    assert [w.filename for w in said] == [__file__]
    assert job.server == A and posted.call_count == 1
    assert json.loads(posted.calls.last.request.content)["model_args"] == {"revision": "main"}


async def test_a_failed_jobs_error_keeps_its_job_as_sent_in_the_process(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # A pickle of the error masks the job's secrets; in the process the job stays as sent
    # (a pool copies the errors of a server to name it, never this one).
    request = {"model": "openai", "tasks": ["mme"], "model_args": {"api_key": "zq-secret-42"}}
    failed = job_json("failed", request=request, error="ValueError: bad key zq-secret-42")
    mock.get(f"{B}/jobs/{JOB_ID}").respond(200, json=failed)
    pool = make_pool()
    pool.pool.adopt(JOB_ID, B)
    with pytest.raises(JobFailedError) as raised:
        await pool.wait_for_job(JOB_ID, poll_interval=0.01, timeout=5, verbose=False)
    assert raised.value.job.request.model_args == {"api_key": "zq-secret-42"}
    assert "zq-secret-42" not in str(raised.value)
    assert b"zq-secret-42" not in pickle.dumps(raised.value)


async def test_cancel_goes_to_the_server_that_holds_the_job(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    pool = make_pool()
    pool.pool.adopt(JOB_ID, B)
    cancel = mock.delete(f"{B}/jobs/{JOB_ID}").respond(
        200, json={"message": f"Job {JOB_ID} cancelled"}
    )
    assert (await pool.cancel_job(JOB_ID)).message == f"Job {JOB_ID} cancelled"
    assert cancel.call_count == 1
    assert pool.pool.jobs()[0].status == JobStatus.CANCELLED


# -- reports ----------------------------------------------------------------------------------


async def test_the_queue_sums_up_the_servers_and_shows_each(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    serve(mock, A, queue={**IDLE, "queue_size": 1, "queued_jobs": ["q1"], "running_job": "r1"})
    mock.get(f"{B}/health").mock(side_effect=httpx.ConnectError("refused"))
    status = await make_pool().get_queue_status()
    assert (status.queue_size, status.queued_jobs, status.running_jobs) == (1, ["q1"], ["r1"])
    assert status.running_job == "r1"
    assert [s.server for s in status.servers] == [A, B]
    assert status.servers[0].queue is not None and status.servers[1].error


async def test_no_queue_at_all_is_an_error(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    for base in (A, B):
        mock.get(f"{base}/health").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(NoServerAvailableError):
        await make_pool().get_queue_status()


async def test_health_reports_each_server(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    serve(mock, A)
    mock.get(f"{B}/health").mock(side_effect=httpx.ConnectError("refused"))
    pool = make_pool()
    health = await pool.health()
    assert health.status == "degraded"
    assert [(s.server, s.healthy) for s in health.servers] == [(A, True), (B, False)]
    assert "ConnectError" in (health.servers[1].error or "")
    assert await pool.is_healthy()


async def test_listings_are_united_and_an_error_only_when_none_can_list(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    mock.get(f"{A}/tasks").respond(200, json={"tasks": ["mme", "ai2d"]})
    mock.get(f"{B}/tasks").respond(200, json={"tasks": [], "error": "No module named 'yaml'"})
    pool = make_pool()
    assert await pool.list_tasks() == ["mme", "ai2d"]
    with pytest.raises(DiscoveryError, match=r"\[http://b.test:8000\]"):
        await make_pool([B]).list_tasks()


async def test_listings_no_server_answers_raise_the_first_servers_own_error(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    # The adversarial try of the pool: the docstrings said DiscoveryError; the first
    # server's own error is raised (the class a client raises, so one except clause serves
    # both), naming the server, as they now say.
    mock.get(f"{A}/models").mock(side_effect=httpx.ConnectError("refused"))
    mock.get(f"{B}/models").respond(500, json={"detail": "boom"})
    with pytest.raises(APIConnectionError) as info:
        await make_pool().list_models()
    assert not isinstance(info.value, DiscoveryError)
    assert info.value.server == A  # type: ignore[attr-defined]
    assert "Raises:\n            LmmsEvalError: No server could list them" in (
        EvalPool.list_tasks.__doc__ or ""
    )


async def test_merge_needs_the_server_whose_disk_holds_the_checkpoint(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller]
) -> None:
    merge_b = mock.post(f"{B}/merge").respond(
        200, json={"success": True, "message": "merged", "merged_path": "/ckpt/merged"}
    )
    pool = make_pool()
    with pytest.raises(InvalidArgumentError, match="server="):
        await pool.merge_checkpoint("/ckpt")
    assert (await pool.merge_checkpoint("/ckpt", server=B + "/")).success
    assert merge_b.call_count == 1


# -- settings, lifecycle ----------------------------------------------------------------------


def test_servers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMMS_EVAL_BASE_URLS", f" {A}, {B}/ ,")
    with EvalPool() as pool:
        assert pool.servers == (A, B)
    monkeypatch.delenv("LMMS_EVAL_BASE_URLS")
    monkeypatch.setenv("LMMS_EVAL_BASE_URL", A)
    with EvalPool() as pool:
        assert pool.servers == (A,)
    with EvalPool(f"{A},{B}") as pool:
        assert pool.servers == (A, B)


@pytest.mark.parametrize(
    ("servers", "options", "message"),
    [
        ([], {}, "at least one server"),
        ([A, A + "/"], {}, "given twice"),
        # one IPv6 address spelt two ways was two servers (an adversarial try)
        (["http://[::1]:8000", "http://[0:0:0:0:0:0:0:1]:8000"], {}, "given twice"),
        # one loopback server spelt two ways was two servers (the second adversarial try of
        # pools: a job's id was then found on "2 servers", AmbiguousJobIdError)
        (["http://localhost:8000", "http://127.0.0.1:8000"], {}, "localhost:8000 and http://127"),
        (["http://a.example", "http://A.example:80"], {}, "given twice"),
        ([A, 8000], {}, "base URL or a EvalClient"),
        (["ftp://x"], {}, "http"),
        ([A, B], {"max_jobs_per_server": 0}, ">= 1"),
        ([A, B], {"max_jobs_per_server": [1]}, "1 entries for 2 servers"),
        # a raw "TypeError: 'float' object is not iterable" before (an adversarial try)
        ([A, B], {"max_jobs_per_server": 2.0}, "int >= 1"),
        ([A, B], {"max_jobs_per_server": "2"}, "int >= 1"),
        ([A], {"listing_ttl": -1}, "listing_ttl"),
        ([A], {"recheck_interval": float("nan")}, "recheck_interval"),
    ],
)
def test_bad_settings_are_refused(servers: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        EvalPool(servers, **options)


def test_adopt_needs_a_server_of_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: None meant $LMMS_EVAL_BASE_URL (the job adopted there, without a word), else
    # localhost (an adversarial try).
    monkeypatch.setenv("LMMS_EVAL_BASE_URL", A)
    with EvalPool([A, B]) as pool, pytest.raises(InvalidArgumentError, match="server must be"):
        pool.adopt(JOB_ID, None)  # type: ignore[arg-type]
    assert pool.jobs() == []


async def test_clients_given_are_used_and_left_open() -> None:
    client = AsyncEvalClient(A)
    pool = AsyncEvalPool([client, B])
    assert pool.clients[0] is client and pool.servers == (A, B)
    with pytest.raises(InvalidArgumentError, match="AsyncEvalClient"):
        AsyncEvalPool([EvalClient(A)])  # type: ignore[list-item]
    await pool.close()
    assert pool.clients[1]._http.is_closed and not client._http.is_closed
    with pytest.raises(ClientClosedError):
        await pool.get_job(JOB_ID)
    await client.close()
    assert "AsyncEvalPool(servers=" in repr(pool)


async def test_a_jobs_files_are_read_with_its_own_servers_settings(
    mock: respx.MockRouter, tmp_path: Path
) -> None:
    # An adversarial try: given a JobInfo the pool had not seen, the pool read its files
    # with the first server's client's path_map: B's job's log (or results) came from A's
    # mount. Now the pool asks which server holds it first.
    for name in ("a", "b"):
        (tmp_path / name / "out").mkdir(parents=True)
        (tmp_path / name / "out" / "eval-20261202-050001.log").write_text(f"from {name}\n")
    request = {"model": "qwen2_vl", "tasks": ["mme"], "output_dir": "/srv/out"}
    info = JobInfo.model_validate(job_json("failed", request=request))
    mock.get(f"{A}/jobs/{JOB_ID}").respond(404, json={"detail": "not found"})
    mock.get(f"{B}/jobs/{JOB_ID}").respond(200, json=job_json("failed", request=request))
    clients = [
        AsyncEvalClient(base, max_retries=0, path_map={"/srv": str(tmp_path / name)})
        for base, name in ((A, "a"), (B, "b"))
    ]
    pool = AsyncEvalPool(clients)
    try:
        assert await pool.eval_log(info) == "from b"
    finally:
        await pool.close()
        for client in clients:
            await client.close()


async def test_a_choice_reads_no_listing_once_its_calls_time_is_up(
    mock: respx.MockRouter, make_pool: Callable[..., PoolCaller], clock: FakeClock
) -> None:
    # evaluate(timeout=1): the /queue answer came when the call's second was over; its /tasks
    # and /models (seconds on a real server) are not read then: the choice goes by what is
    # known, and the job is sent.
    serve(mock, A)

    def late(request: httpx.Request) -> httpx.Response:
        clock.advance(2)
        return httpx.Response(200, json=IDLE)

    mock.get(f"{A}/queue").mock(side_effect=late)
    listings = [mock.get(f"{A}/tasks"), mock.get(f"{A}/models")]
    post = mock.post(f"{A}/evaluate").respond(200, json=SUBMIT_JSON)
    pool = make_pool([A])
    job = await pool.evaluate("qwen2_vl", ["mme"], model_args=QWEN, timeout=1)
    assert [route.call_count for route in listings] == [0, 0]
    assert job.server == A and post.call_count == 1
