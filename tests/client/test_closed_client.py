"""A closed client sends nothing more: checked before every attempt, not once per call.

``close()`` may come while a request waits out a retry's backoff (from another task or
thread); the retries must stop there, with ClientClosedError, instead of sending again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import respx

from lmms_eval_client import ClientClosedError, EvalClient, WaitTimeoutError

from ..support import BASE, JOB_ID, Caller, job_json


def close_when_sleeping(caller: Caller) -> list[float]:
    """Make the client's sleeps (retry backoff, poll interval) close it; the sleeps made."""
    slept: list[float] = []
    client = caller.client
    if isinstance(client, EvalClient):

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            client.close()

        client._sleep = sleep  # type: ignore[method-assign]
    else:

        async def asleep(seconds: float) -> None:
            slept.append(seconds)
            await client.close()

        client._sleep = asleep  # type: ignore[method-assign]
    return slept


@pytest.fixture(params=["owned", "injected"])
async def closable(
    request: pytest.FixtureRequest,
    kind: str,
    make_caller: Callable[..., Caller],
    mock: respx.MockRouter,
) -> AsyncIterator[Caller]:
    """A client with its own httpx client, or over an injected one (which close() leaves
    open: only the client's own closed state can stop the next attempt)."""
    if request.param == "owned":
        yield make_caller(BASE, max_retries=3)
    elif kind == "sync":
        with httpx.Client(base_url=BASE) as http:
            yield make_caller(http_client=http, max_retries=3)
    else:
        async with httpx.AsyncClient(base_url=BASE) as ahttp:
            yield make_caller(http_client=ahttp, max_retries=3)


async def test_close_during_a_retry_backoff_stops_the_retries(
    closable: Caller, mock: respx.MockRouter
) -> None:
    route = mock.get("/health").respond(503, json={"detail": "restarting"})
    slept = close_when_sleeping(closable)
    with pytest.raises(ClientClosedError):
        await closable.health()
    assert len(slept) == 1  # one backoff, during which the client was closed
    assert route.call_count == 1  # and no attempt after it


async def test_close_during_a_wait_stops_the_polls(
    closable: Caller, mock: respx.MockRouter
) -> None:
    route = mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("running"))
    close_when_sleeping(closable)
    with pytest.raises(ClientClosedError):
        await closable.wait_for_job(JOB_ID, poll_interval=1, timeout=60, verbose=False)
    assert route.call_count == 1


async def test_a_wait_over_a_closed_client_is_not_a_timeout(
    caller: Caller, mock: respx.MockRouter
) -> None:
    route = mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("running"))
    await caller.close()
    with pytest.raises(ClientClosedError) as info:
        await caller.wait_for_job(JOB_ID, poll_interval=1, timeout=60, verbose=False)
    assert not isinstance(info.value, WaitTimeoutError)
    assert route.call_count == 0


async def test_an_injected_httpx_client_closed_by_its_owner_is_client_closed_error(
    kind: str, make_caller: Callable[..., Caller], mock: respx.MockRouter
) -> None:
    route = mock.get("/health").respond(200, json={"status": "healthy"})
    if kind == "sync":
        http: httpx.Client | httpx.AsyncClient = httpx.Client(base_url=BASE)
        http.close()
    else:
        http = httpx.AsyncClient(base_url=BASE)
        await http.aclose()
    caller = make_caller(http_client=http)
    with pytest.raises(ClientClosedError):  # not httpx's bare RuntimeError
        await caller.health()
    assert route.call_count == 0
