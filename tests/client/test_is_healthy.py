"""is_healthy() turns server and network trouble into False, and nothing else.

A programming error (a closed client, a broken transport handed in through
``http_client``) must reach the caller: reported as "server down" it would be hidden.
tests/client/test_methods.py covers the answers that mean False.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from lmms_eval_client import ClientClosedError, InvalidArgumentError

from ..support import BASE, Caller


class BrokenTransportError(TypeError):
    """What a buggy injected transport raises: neither httpx's error nor ours."""


def broken(request: httpx.Request) -> httpx.Response:
    raise BrokenTransportError("handler() got an unexpected keyword argument 'stream'")


async def test_a_closed_client_is_not_reported_unhealthy(
    caller: Caller, mock: respx.MockRouter
) -> None:
    route = mock.get("/health").respond(200, json={"status": "healthy"})
    await caller.close()
    with pytest.raises(ClientClosedError):
        await caller.is_healthy()
    assert route.call_count == 0


async def test_a_broken_injected_transport_is_not_reported_unhealthy(
    kind: str, make_caller: Callable[..., Caller]
) -> None:
    transport = httpx.MockTransport(broken)
    if kind == "sync":
        http: httpx.Client | httpx.AsyncClient = httpx.Client(base_url=BASE, transport=transport)
    else:
        http = httpx.AsyncClient(base_url=BASE, transport=transport)
    caller = make_caller(http_client=http)
    try:
        with pytest.raises(BrokenTransportError) as info:
            await caller.is_healthy()
    finally:
        await http.aclose() if isinstance(http, httpx.AsyncClient) else http.close()
    assert not isinstance(info.value, InvalidArgumentError)
    assert "unexpected keyword argument" in str(info.value)
