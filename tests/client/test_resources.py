"""Connections are released: close(), context managers, garbage collection, injected clients."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import warnings

import httpx
import pytest
import respx

from lmms_eval_client import AsyncEvalClient, EvalClient, InvalidArgumentError

from ..support import BASE, HEALTH_JSON


def test_sync_client_dropped_unclosed_closes_its_http_client(mock: respx.MockRouter) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    client = EvalClient(BASE)
    client.health()
    http = client._http
    assert not http.is_closed
    del client
    gc.collect()
    assert http.is_closed


async def test_async_client_dropped_unclosed_warns(mock: respx.MockRouter) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    client = AsyncEvalClient(BASE)
    await client.health()
    http = client._http
    with pytest.warns(ResourceWarning, match="never closed"):
        del client
        gc.collect()
    await http.aclose()


async def test_async_client_closed_does_not_warn(mock: respx.MockRouter) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = AsyncEvalClient(BASE)
        await client.health()
        await client.close()
        del client
        async with AsyncEvalClient(BASE) as other:
            await other.health()
        del other
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
def test_failed_construction_leaves_nothing_behind(cls: type) -> None:
    # __del__ of a half-built client must neither warn nor raise (unraisable -> error here)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidArgumentError):
            cls("ftp://lmms.test")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_injected_sync_client_is_not_closed(mock: respx.MockRouter) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    http = httpx.Client(base_url=BASE, headers={"X-Trace": "1"})
    with EvalClient(http_client=http) as client:
        client.health()
    client.close()
    del client
    gc.collect()
    assert not http.is_closed
    assert mock.calls.last.request.headers["x-trace"] == "1"
    http.get("/health")  # still usable
    http.close()


async def test_injected_async_client_is_not_closed_and_no_warning(mock: respx.MockRouter) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    http = httpx.AsyncClient(base_url=BASE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with AsyncEvalClient(http_client=http) as client:
            await client.health()
        await client.close()
        unclosed = AsyncEvalClient(http_client=http)  # we do not own it: nothing to warn about
        del client, unclosed
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert not http.is_closed
    await http.aclose()


@pytest.mark.parametrize(
    ("cls", "http_cls"), [(EvalClient, httpx.Client), (AsyncEvalClient, httpx.AsyncClient)]
)
async def test_injected_client_without_base_url_gets_ours(
    mock: respx.MockRouter, cls: type, http_cls: type
) -> None:
    route = mock.get("/health").respond(200, json=HEALTH_JSON)
    http = http_cls()
    client = cls(BASE + "/", http_client=http)
    assert client.base_url == BASE
    result = client.health()
    if cls is AsyncEvalClient:
        result = await result
    assert result.status == "healthy"
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("cls", "http_cls"), [(EvalClient, httpx.Client), (AsyncEvalClient, httpx.AsyncClient)]
)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": "k"},
        {"headers": {"a": "b"}},
        {"timeout": 5},
        {"http2": True},
        {"limits": httpx.Limits()},
        {"base_url": "http://other.test"},
    ],
    ids=lambda kw: next(iter(kw)),
)
def test_injected_client_refuses_options_it_would_ignore(
    cls: type, http_cls: type, kwargs: dict
) -> None:
    http = http_cls(base_url=BASE)
    with pytest.raises(InvalidArgumentError):
        cls(http_client=http, **kwargs)


DROP_AFTER_LOOP_CLOSED = textwrap.dedent(
    """
    import asyncio, gc, respx
    from lmms_eval_client import AsyncEvalClient

    kept = []

    async def main():
        # -X dev makes asyncio report steps slower than 0.1 s on stderr: a loaded machine,
        # not a defect of the client (the loop reads this after the step).
        asyncio.get_running_loop().slow_callback_duration = 3600
        client = AsyncEvalClient("http://lmms.test")
        await client.health()
        kept.append(client)

    with respx.mock(base_url="http://lmms.test") as mock:
        mock.get("/health").respond(
            200, json={"status": "healthy", "timestamp": "t", "queue_size": 0}
        )
        asyncio.run(main())
    kept.clear()  # the loop asyncio.run used is closed by now
    gc.collect()
    print("survived")
    """
)


def test_async_client_dropped_after_its_loop_closed_is_quiet() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "dev",
            "-W",
            "always::ResourceWarning",
            "-c",
            DROP_AFTER_LOOP_CLOSED,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "survived"
    assert "Event loop is closed" not in result.stderr
    assert "Exception ignored" not in result.stderr
    assert "Traceback" not in result.stderr
    # proof that __del__ ran: it warned instead of touching the dead loop
    assert "was never closed" in result.stderr
    # and nothing else was printed (a task destroyed pending, a coroutine never awaited...)
    unexpected = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "ResourceWarning" not in line and "kept.clear()" not in line
    ]
    assert unexpected == []
