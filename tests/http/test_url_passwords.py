"""A password in a URL is never shown, wherever the URL came from.

tests/http/test_logging_redaction.py covers a ``base_url`` with ``user:password@`` given to
a client (it becomes basic auth and leaves the URL). Here: a bad base_url that carries
one (its error quotes the URL), and an injected httpx client whose own base URL carries
one (httpx keeps it in every request URL, which our logs and messages quote).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from lmms_eval_client import (
    APIConnectionError,
    AsyncEvalClient,
    EvalClient,
    InvalidArgumentError,
    LmmsEvalError,
)

from ..support import Caller

PASSWORD = "pa55w0rd-5ecret"
USERINFO = f"alice:{PASSWORD}@"


@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
@pytest.mark.parametrize(
    "url",
    [f"ftp://{USERINFO}lmms.test", f"http://{USERINFO}lmms.test/api?x=1", f"{USERINFO}lmms.test"],
    ids=["scheme", "query", "no-scheme"],
)
def test_a_bad_base_url_is_quoted_without_its_password(cls: type, url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="base_url") as info:
        cls(url)
    assert PASSWORD not in str(info.value)
    assert "alice" in str(info.value) or "***" in str(info.value)  # the URL is quoted


def injected_http(kind: str, failures: list[object]) -> httpx.Client | httpx.AsyncClient:
    """An httpx client whose base URL carries user:password, answering with ``failures``
    in turn (a MockTransport keeps the request URL as httpx built it: with the password)."""
    answers = iter(failures)
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        assert request.url.password == PASSWORD  # httpx keeps it in every request URL
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, httpx.Response)
        return answer

    base = f"http://{USERINFO}lmms.test"
    transport = httpx.MockTransport(handler)
    if kind == "sync":
        return httpx.Client(base_url=base, transport=transport)
    return httpx.AsyncClient(base_url=base, transport=transport)


async def test_an_injected_client_with_a_password_is_shown_without_it(
    kind: str, make_caller: Callable[..., Caller]
) -> None:
    http = injected_http(kind, [])
    client = make_caller(http_client=http).client
    assert PASSWORD not in repr(client)
    assert PASSWORD not in client.base_url
    assert client.base_url.endswith("lmms.test")
    await http.aclose() if isinstance(http, httpx.AsyncClient) else http.close()


# fresh responses for every test: a response read by one client cannot serve another
FAILURES = {
    "transport": lambda: [
        httpx.Response(503, json={}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    "statuses": lambda: [
        httpx.Response(429, json={}),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(504, text="<html>gateway timeout</html>"),
    ],
}


@pytest.mark.parametrize("failures", FAILURES)
async def test_requests_of_an_injected_client_are_logged_and_reported_without_password(
    kind: str,
    make_caller: Callable[..., Caller],
    caplog: pytest.LogCaptureFixture,
    failures: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="lmms_eval_client")
    http = injected_http(kind, FAILURES[failures]())
    try:
        with pytest.raises(LmmsEvalError) as info:
            await make_caller(http_client=http, max_retries=2).health()
    finally:
        await http.aclose() if isinstance(http, httpx.AsyncClient) else http.close()
    ours = [r.getMessage() for r in caplog.records if r.name == "lmms_eval_client"]
    assert any("GET http://lmms.test/health" in line for line in ours), ours
    assert not any(PASSWORD in line for line in ours), ours
    assert PASSWORD not in str(info.value)
    if isinstance(info.value, APIConnectionError):
        assert "GET http://lmms.test/health" in str(info.value)
