"""Construction settings, and drop-in details, that the other unit modules do not cover."""

from __future__ import annotations

import sys

import httpx
import pytest
import respx

from lmms_eval_client import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncEvalClient,
    ClientClosedError,
    EvalClient,
    HealthResponse,
    InternalServerError,
    InvalidArgumentError,
)
from lmms_eval_client._http.config import DEFAULT_LIMITS

from ..support import BASE, HEALTH_JSON, MINIMAL_REQUESTS

pytestmark = MINIMAL_REQUESTS


@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
def test_http2_without_its_extra_says_how_to_install_it(
    cls: type[EvalClient] | type[AsyncEvalClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h2", None)  # as if the h2 package were not installed
    with pytest.raises(InvalidArgumentError, match=r"lmms-eval-client\[http2\]"):
        cls(BASE, http2=True)


@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
async def test_default_pool_is_bounded_and_keeps_its_connections(
    cls: type[EvalClient] | type[AsyncEvalClient],
) -> None:
    client = cls(BASE)
    pool = client._http._transport._pool  # type: ignore[union-attr]
    assert pool._max_connections == DEFAULT_LIMITS.max_connections == 100
    assert pool._max_keepalive_connections == 100
    if isinstance(client, AsyncEvalClient):
        await client.close()
    else:
        client.close()


@pytest.mark.parametrize("module", ["_exceptions", "_results.errors", "_runs.errors"])
def test_every_error_class_is_exported(module: str) -> None:
    import importlib

    import lmms_eval_client

    errors = importlib.import_module(f"lmms_eval_client.{module}")
    defined = {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type)
        and issubclass(obj, Exception)
        and obj.__module__ == errors.__name__
    }
    assert defined
    assert defined - set(lmms_eval_client.__all__) == set()


def test_explicit_headers_win_over_the_environment_case_insensitively(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMMS_EVAL_API_KEY", "from-env")
    route = mock.get("/health").respond(200, json=HEALTH_JSON)
    with EvalClient(BASE, headers={"authorization": "Bearer mine", "user-agent": "me/1"}) as c:
        c.health()
    sent = route.calls.last.request.headers
    assert sent.get_list("authorization") == ["Bearer mine"]
    assert sent.get_list("user-agent") == ["me/1"]


def test_api_key_argument_is_sent_once(mock: respx.MockRouter) -> None:
    route = mock.get("/health").respond(200, json=HEALTH_JSON)
    with EvalClient(BASE, api_key="k1") as c:
        c.health()
    assert route.calls.last.request.headers.get_list("authorization") == ["Bearer k1"]


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), 0, -1])
def test_network_timeout_must_be_finite_and_positive(timeout: float) -> None:
    with pytest.raises(InvalidArgumentError):
        EvalClient(BASE, timeout=timeout)


def test_the_wrong_kind_of_injected_client_is_refused() -> None:
    with httpx.Client() as sync_http, pytest.raises(InvalidArgumentError, match="AsyncClient"):
        AsyncEvalClient(BASE, http_client=sync_http)  # type: ignore[arg-type]


async def test_async_client_is_refused_by_the_sync_client() -> None:
    async with httpx.AsyncClient() as async_http:
        with pytest.raises(InvalidArgumentError, match=r"httpx\.Client"):
            EvalClient(BASE, http_client=async_http)  # type: ignore[arg-type]


def test_closing_over_an_injected_client_refuses_further_calls(mock: respx.MockRouter) -> None:
    mock.get("/health").respond(200, json=HEALTH_JSON)
    with httpx.Client(base_url=BASE) as http:
        client = EvalClient(http_client=http)
        client.close()
        assert not http.is_closed  # ours to use, not to close
        with pytest.raises(ClientClosedError):
            client.health()


def test_connection_errors_are_also_the_exact_httpx_class(mock: respx.MockRouter) -> None:
    # Code written for lmms-eval's client catches httpx's own classes.
    mock.get("/health").mock(side_effect=httpx.ConnectError("refused"))
    mock.get("/queue").mock(side_effect=httpx.ReadTimeout("slow"))
    with EvalClient(BASE, max_retries=0) as client:
        with pytest.raises(httpx.ConnectError) as refused:
            client.health()
        with pytest.raises(httpx.ReadTimeout) as slow:
            client.get_queue_status()
    assert isinstance(refused.value, APIConnectionError)
    assert isinstance(slow.value, APITimeoutError)


def test_a_body_that_is_not_json_is_also_a_value_error(mock: respx.MockRouter) -> None:
    # lmms-eval's client raised json's JSONDecodeError, a ValueError.
    mock.get("/health").respond(200, text="<html>proxy</html>")
    with EvalClient(BASE) as client, pytest.raises(ValueError) as bad:
        client.health()
    assert isinstance(bad.value, APIResponseValidationError)


def test_a_gateway_error_on_submission_says_the_job_may_exist(mock: respx.MockRouter) -> None:
    route = mock.post("/evaluate").respond(504, text="Gateway Timeout")
    with EvalClient(BASE) as client, pytest.raises(InternalServerError, match="get_queue_status"):
        client.evaluate("m", ["t"])
    assert route.call_count == 1


def test_results_read_like_the_dicts_they_replace() -> None:
    info = HealthResponse.from_dict({"status": "healthy", "timestamp": "t", "queue_size": 0})
    assert len(info) == 3
    assert list(info.keys()) == ["status", "timestamp", "queue_size"]
    assert list(info.values()) == ["healthy", "t", 0]
    assert dict(info.items()) == {"status": "healthy", "timestamp": "t", "queue_size": 0}
