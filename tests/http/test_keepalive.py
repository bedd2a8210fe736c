"""Idle connections are dropped before a server closes them, so a submission after a pause
is not sent on a connection the server is closing (a false "the job may exist").

uvicorn, which lmms-eval runs, closes idle connections after 5 s (gunicorn's uvicorn workers
after 2 s); httpx keeps them 5 s. A request sent as the server closes fails after it may
have been sent, and a submission is never resent blindly: the caller gets
APIConnectionError(may_have_been_sent=True) although the server never saw the job.
benchmarks/bench_false_alarms.py measures the race; here it is made deterministic: the
server drops, unanswered, any request that arrives on a connection idle for 1.5 s.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import uvicorn

from lmms_eval_client import AsyncEvalClient, EvalClient

from ..faults import Action, Close, Seen, proxy, respond
from ..support import MINIMAL_REQUESTS, SUBMIT_JSON

pytestmark = MINIMAL_REQUESTS

GUNICORN_KEEPALIVE = 2.0  # gunicorn's default `keepalive`, also given to its uvicorn workers
SERVER_CLOSES_AFTER = 1.5  # idle seconds after which the test's server drops a request
PAUSE = 1.6  # the client's pause between submissions: longer than that


def closing_server(seen: Seen) -> Action:
    if seen.idle is not None and seen.idle >= SERVER_CLOSES_AFTER:
        return Close()  # the server's keep-alive timer fired as the request came in
    return respond(200, json.dumps(SUBMIT_JSON).encode())


@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
async def test_idle_connections_expire_before_any_usual_server_closes_them(
    cls: type[EvalClient] | type[AsyncEvalClient],
) -> None:
    client = cls("http://127.0.0.1:9")
    pool = client._http._transport._pool  # type: ignore[union-attr]
    uvicorn_keepalive = uvicorn.Config(app=None).timeout_keep_alive
    assert uvicorn_keepalive == 5
    assert pool._keepalive_expiry < GUNICORN_KEEPALIVE < uvicorn_keepalive
    assert pool._keepalive_expiry < SERVER_CLOSES_AFTER
    if isinstance(client, AsyncEvalClient):
        await client.close()
    else:
        client.close()


@pytest.mark.slow
async def test_a_submission_after_a_pause_goes_out_on_a_fresh_connection_sync() -> None:
    with proxy(None, closing_server) as p, EvalClient(p.url, max_retries=0) as client:
        client.evaluate(model="m", tasks=["t"])
        time.sleep(PAUSE)  # idle time is what is tested: no event stands in for it
        client.evaluate(model="m", tasks=["t"])  # raised APIConnectionError before
        assert [seen.action for seen in p.seen] == ["respond", "respond"]
        assert p.seen[1].idle is None  # a new connection
        assert p.connections == 2


@pytest.mark.slow
async def test_a_submission_after_a_pause_goes_out_on_a_fresh_connection_async() -> None:
    with proxy(None, closing_server) as p:
        async with AsyncEvalClient(p.url, max_retries=0) as client:
            await client.evaluate(model="m", tasks=["t"])
            await asyncio.sleep(PAUSE)  # idle time is what is tested
            await client.evaluate(model="m", tasks=["t"])
        assert [seen.action for seen in p.seen] == ["respond", "respond"]
        assert p.seen[1].idle is None
        assert p.connections == 2


async def test_connections_are_still_reused_within_a_burst() -> None:
    with proxy(None, closing_server) as p, EvalClient(p.url) as client:
        for _ in range(5):
            client.evaluate(model="m", tasks=["t"])
        assert p.connections == 1


def test_the_callers_limits_are_taken_as_given() -> None:
    limits = httpx.Limits(max_connections=4, keepalive_expiry=0.25)
    with EvalClient("http://127.0.0.1:9", limits=limits) as client:
        assert client._http._transport._pool._keepalive_expiry == 0.25  # type: ignore[attr-defined]
