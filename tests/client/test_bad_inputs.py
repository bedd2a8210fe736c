"""Bad constructor input is rejected before any request, both clients: InvalidArgumentError
(a ValueError and a TypeError), and not one connection to the server.

tests/client/test_validation.py covers the other arguments; here: a base_url without scheme
or host, a negative (or non-integer) max_retries, and credentials that cannot be a header.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    EvalClient,
    InternalServerError,
    InvalidArgumentError,
)

from ..faults import HOST, FaultProxy, Respond, http_response, proxy
from ..support import MakeClient


@pytest.fixture
def server() -> Iterator[FaultProxy]:
    """A server that counts connections and answers every request with a healthy 200."""
    body = b'{"status": "healthy", "timestamp": "t", "queue_size": 0}'
    with proxy(None, lambda seen: Respond(http_response(200, body))) as started:
        yield started


# base_url values without an http(s) scheme or without a host; "{port}" is the server's
BAD_BASE_URLS = [
    pytest.param("{host}:{port}", id="host-port-no-scheme"),
    pytest.param("localhost:{port}", id="localhost-no-scheme"),
    pytest.param("{host}", id="bare-host"),
    pytest.param("//{host}:{port}", id="scheme-relative"),
    pytest.param("http:/{host}:{port}", id="one-slash"),
    pytest.param(" http://{host}:{port}", id="leading-space"),
    pytest.param("http://", id="scheme-only"),
    pytest.param("http:///jobs", id="no-host-with-path"),
    pytest.param("http://user:pw@", id="userinfo-no-host"),
    pytest.param("https://:{port}", id="port-no-host"),
    pytest.param("ftp://{host}:{port}", id="ftp"),
    pytest.param("file:///tmp/server", id="file"),
    pytest.param("ws://{host}:{port}", id="websocket"),
    pytest.param("http://{host}:port", id="bad-port"),
    pytest.param("http://[::1", id="unclosed-ipv6"),
    pytest.param("", id="empty"),
    pytest.param(b"http://{host}:{port}", id="bytes"),
    pytest.param(8000, id="int"),
]

BAD_MAX_RETRIES = [
    pytest.param(-1, id="minus-1"),
    pytest.param(-100, id="minus-100"),
    pytest.param(1.5, id="float"),
    pytest.param(2.0, id="integral-float"),
    pytest.param(float("inf"), id="inf"),
    pytest.param("2", id="str"),
    pytest.param(None, id="none"),
    pytest.param(True, id="bool"),
]

CLIENTS = [pytest.param(EvalClient, id="sync"), pytest.param(AsyncEvalClient, id="async")]


def fill(value: Any, server: FaultProxy) -> Any:
    if isinstance(value, str):
        return value.format(host=HOST, port=server.port)
    if isinstance(value, bytes):
        return value.replace(b"{host}", HOST.encode()).replace(b"{port}", b"%d" % server.port)
    return value


@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize("base_url", BAD_BASE_URLS)
def test_base_url_without_scheme_or_host_is_rejected(
    cls: type[EvalClient | AsyncEvalClient], server: FaultProxy, base_url: Any
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        cls(fill(base_url, server))
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)
    assert "base_url" in str(info.value)
    assert server.connections == 0


@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize("max_retries", BAD_MAX_RETRIES)
def test_bad_max_retries_is_rejected(
    cls: type[EvalClient | AsyncEvalClient], server: FaultProxy, max_retries: Any
) -> None:
    with pytest.raises(InvalidArgumentError, match="max_retries") as info:
        cls(server.url, max_retries=max_retries)
    assert isinstance(info.value, ValueError)
    assert server.connections == 0


@pytest.mark.parametrize("max_retries", [0, 1, 2, 10])
async def test_good_max_retries_are_accepted(make_client: MakeClient, max_retries: int) -> None:
    """max_retries=N means N + 1 attempts of a request that keeps failing, then the error."""
    unavailable = Respond(http_response(503, b'{"detail": "restarting"}'))
    with proxy(None, lambda seen: unavailable) as failing:
        caller = make_client(failing.url, max_retries=max_retries)
        with pytest.raises(InternalServerError, match="restarting"):
            await caller.health()
        assert len(failing.seen) == max_retries + 1
    assert len(caller.sleeper.delays) == max_retries


@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize(
    "suffix",
    ["/api?token=x", "/?", "?", "/#top", "#"],
    ids=["query", "empty-query", "bare-query", "fragment", "bare-fragment"],
)
def test_base_url_with_a_query_or_fragment_is_rejected(
    cls: type[EvalClient | AsyncEvalClient], server: FaultProxy, suffix: str
) -> None:
    # Paths are appended to the base URL: a query or fragment would swallow them.
    with pytest.raises(InvalidArgumentError, match="query or fragment") as info:
        cls(server.url + suffix)
    assert "base_url" in str(info.value)
    assert server.connections == 0


@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize("suffix", ["/?api_key=SECRETTOK", "/#SECRETTOK", "/x?a=1&token=SECRETTOK"])
def test_a_refused_base_urls_query_or_fragment_is_not_shown(
    cls: type[EvalClient | AsyncEvalClient], suffix: str
) -> None:
    # Before: the message quoted the whole URL, a key in its query included.
    with pytest.raises(InvalidArgumentError, match="query or fragment") as info:
        cls("http://127.0.0.1:9" + suffix)
    assert "SECRETTOK" not in str(info.value)


SECRET = "sk-live-0123456789"


@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize(
    "junk",
    ["\r\nX-Injected: 1", "\n", "\x00", "\t", " ", " x", "\x7f"],
    ids=["crlf", "lf", "nul", "tab", "trailing-space", "inner-space", "del"],
)
def test_api_key_that_cannot_be_a_header_is_rejected_without_showing_it(
    cls: type[EvalClient | AsyncEvalClient], server: FaultProxy, junk: str
) -> None:
    with pytest.raises(InvalidArgumentError, match="api_key") as info:
        cls(server.url, api_key=SECRET + junk)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert SECRET not in repr(info.value.args)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert server.connections == 0


@pytest.mark.parametrize("cls", CLIENTS)
def test_non_ascii_api_key_is_invalid_argument(
    cls: type[EvalClient | AsyncEvalClient], server: FaultProxy
) -> None:
    key = "sk-clé-" + SECRET
    with pytest.raises(InvalidArgumentError) as info:
        cls(server.url, api_key=key)
    assert SECRET not in repr(info.value.args)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Team": "équipe"},
        {"X-Team": 5},
        {"X-Team": "a\nb"},
        {"X-Team": "a "},
        {"Authorization": f"Bearer {SECRET} "},
        {"X-Api-Key": f" {SECRET}"},
    ],
    ids=["non-ascii", "int", "newline", "trailing-space", "secret-trailing-space", "secret-lead"],
)
async def test_headers_that_cannot_be_sent_are_invalid_argument(
    make_client: MakeClient, server: FaultProxy, headers: dict[str, Any]
) -> None:
    # Refused here, not by h11 at send time: its error would quote the value.
    with pytest.raises(InvalidArgumentError) as info:
        make_client(server.url, headers=headers)
    assert SECRET not in str(info.value)
    assert server.connections == 0
