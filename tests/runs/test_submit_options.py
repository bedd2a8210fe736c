"""A run's submit() takes evaluate()'s options: extra_body= is sent (and recorded), timeout=
bounds the submission's requests, and a bad one is refused before anything is recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lmms_eval_client import APITimeoutError, InvalidArgumentError

from ..faults import Script, Stall, proxy
from ._fake import BASE, FakeServer
from .conftest import MakeRunner

QWEN = {"pretrained": "org/m"}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


async def test_extra_body_is_sent_and_recorded(server: FakeServer, make_runner: MakeRunner) -> None:
    runner = make_runner(BASE)
    job = await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, extra_body={"seed": 7})
    assert job.job_id is not None
    assert server.jobs[job.job_id]["request"]["seed"] == 7
    assert job.request.to_dict()["seed"] == 7  # the ledger's request, matched on reconciling


async def test_extra_body_refuses_a_known_field_before_anything_is_recorded(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    with pytest.raises(InvalidArgumentError, match="limit"):
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, extra_body={"limit": 2})
    assert await runner.jobs() == [] and sum(server.requests.values()) == 0


@pytest.mark.parametrize("bad", [0, -1, "5"])
async def test_a_bad_timeout_is_refused_before_anything_is_recorded(
    server: FakeServer, make_runner: MakeRunner, bad: object
) -> None:
    runner = make_runner(BASE)
    with pytest.raises(InvalidArgumentError, match="timeout"):
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, timeout=bad)
    assert await runner.jobs() == [] and sum(server.requests.values()) == 0


async def test_timeout_bounds_the_submissions_requests(make_runner: MakeRunner) -> None:
    with proxy(None, Script(then=Stall())) as p:  # a server that never answers
        runner = make_runner(p.url, client_options={"timeout": 60, "max_retries": 0})
        start = time.monotonic()
        with pytest.raises(APITimeoutError):
            await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, timeout=0.5)
        elapsed = time.monotonic() - start
    assert elapsed < 10  # the call's 0.5 s, not the client's 60 s
    assert [job.state for job in await runner.jobs()] in ([], ["unsent"])
