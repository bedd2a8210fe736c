"""Fixtures: a respx router for http://lmms.test, a fake clock, and a caller fixture that
runs each test once with EvalClient and once with AsyncEvalClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import respx

from lmms_eval_client import AsyncEvalClient, EvalClient

from ._support import BASE, Caller, FakeClock


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LMMS_EVAL_* settings must not leak into the tests."""
    monkeypatch.delenv("LMMS_EVAL_BASE_URL", raising=False)
    monkeypatch.delenv("LMMS_EVAL_API_KEY", raising=False)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    """Every httpx request is served by respx; an unrouted one fails the test."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_caller(kind: str, clock: FakeClock) -> AsyncIterator[Callable[..., Caller]]:
    """Build a client of the current kind (closed at teardown) wired to the fake clock."""
    made: list[Caller] = []

    def make(*args: Any, **kwargs: Any) -> Caller:
        if kind == "sync":
            client: EvalClient | AsyncEvalClient = EvalClient(*args, **kwargs)
            client._sleep = clock.sleep  # type: ignore[method-assign]
        else:
            client = AsyncEvalClient(*args, **kwargs)
            client._sleep = clock.asleep  # type: ignore[method-assign]
        client._clock = clock  # type: ignore[method-assign]
        caller = Caller(client)
        made.append(caller)
        return caller

    yield make
    for caller in made:
        await caller.close()


@pytest.fixture
def caller(make_caller: Callable[..., Caller], mock: respx.MockRouter) -> Caller:
    return make_caller(BASE)
