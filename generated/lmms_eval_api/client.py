"""The low-level client: a holder of the httpx clients the endpoint functions send through.

Same constructor keywords and methods as openapi-python-client's stock client, written
with dataclasses (no dependency beyond httpx) and typed for ``mypy --strict``.
"""

from __future__ import annotations

import dataclasses
import ssl
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import httpx

_C = TypeVar("_C", bound="Client")


@dataclass
class Client:
    """A class for keeping track of data related to the API

    The following are accepted as keyword arguments and will be used to construct httpx Clients internally:

        ``base_url``: The base URL for the API, all requests are made to a relative path to this URL

        ``cookies``: A dictionary of cookies to be sent with every request

        ``headers``: A dictionary of headers to be sent with every request

        ``timeout``: The maximum amount of a time a request can take. API functions will raise
        httpx.TimeoutException if this is exceeded.

        ``verify_ssl``: Whether or not to verify the SSL certificate of the API server.

        ``follow_redirects``: Whether or not to follow redirects. Default value is False.

        ``httpx_args``: A dictionary of additional arguments to be passed to the ``httpx.Client`` and ``httpx.AsyncClient`` constructor.

    Attributes:
        raise_on_unexpected_status: Whether or not to raise an errors.UnexpectedStatus if the API returns a
            status code that was not documented in the source OpenAPI document.
    """

    base_url: str
    raise_on_unexpected_status: bool = field(default=False, kw_only=True)
    cookies: dict[str, str] = field(default_factory=dict, kw_only=True)
    headers: dict[str, str] = field(default_factory=dict, kw_only=True)
    timeout: httpx.Timeout | None = field(default=None, kw_only=True)
    verify_ssl: str | bool | ssl.SSLContext = field(default=True, kw_only=True)
    follow_redirects: bool = field(default=False, kw_only=True)
    httpx_args: dict[str, Any] = field(default_factory=dict, kw_only=True)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _async_client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def with_headers(self: _C, headers: dict[str, str]) -> _C:
        """Get a new client matching this one with additional headers"""
        if self._client is not None:
            self._client.headers.update(headers)
        if self._async_client is not None:
            self._async_client.headers.update(headers)
        return dataclasses.replace(self, headers={**self.headers, **headers})

    def with_cookies(self: _C, cookies: dict[str, str]) -> _C:
        """Get a new client matching this one with additional cookies"""
        if self._client is not None:
            self._client.cookies.update(cookies)
        if self._async_client is not None:
            self._async_client.cookies.update(cookies)
        return dataclasses.replace(self, cookies={**self.cookies, **cookies})

    def with_timeout(self: _C, timeout: httpx.Timeout) -> _C:
        """Get a new client matching this one with a new timeout configuration"""
        if self._client is not None:
            self._client.timeout = timeout
        if self._async_client is not None:
            self._async_client.timeout = timeout
        return dataclasses.replace(self, timeout=timeout)

    def set_httpx_client(self: _C, client: httpx.Client) -> _C:
        """Manually set the underlying httpx.Client

        **NOTE**: This will override any other settings on the client, including cookies, headers, and timeout.
        """
        self._client = client
        return self

    def get_httpx_client(self) -> httpx.Client:
        """Get the underlying httpx.Client, constructing a new one if not previously set"""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url,
                cookies=self.cookies,
                headers={**self.headers, **self._auth_headers()},
                timeout=self.timeout,
                verify=self.verify_ssl,
                follow_redirects=self.follow_redirects,
                **self.httpx_args,
            )
        return self._client

    def __enter__(self: _C) -> _C:
        """Enter a context manager for self.client—you cannot enter twice (see httpx docs)"""
        self.get_httpx_client().__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        """Exit a context manager for internal httpx.Client (see httpx docs)"""
        self.get_httpx_client().__exit__(exc_type, exc_value, traceback)

    def set_async_httpx_client(self: _C, async_client: httpx.AsyncClient) -> _C:
        """Manually set the underlying httpx.AsyncClient

        **NOTE**: This will override any other settings on the client, including cookies, headers, and timeout.
        """
        self._async_client = async_client
        return self

    def get_async_httpx_client(self) -> httpx.AsyncClient:
        """Get the underlying httpx.AsyncClient, constructing a new one if not previously set"""
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(
                base_url=self.base_url,
                cookies=self.cookies,
                headers={**self.headers, **self._auth_headers()},
                timeout=self.timeout,
                verify=self.verify_ssl,
                follow_redirects=self.follow_redirects,
                **self.httpx_args,
            )
        return self._async_client

    async def __aenter__(self: _C) -> _C:
        """Enter a context manager for underlying httpx.AsyncClient—you cannot enter twice (see httpx docs)"""
        await self.get_async_httpx_client().__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        """Exit a context manager for underlying httpx.AsyncClient (see httpx docs)"""
        await self.get_async_httpx_client().__aexit__(exc_type, exc_value, traceback)


@dataclass
class AuthenticatedClient(Client):
    """A Client which sends ``<auth_header_name>: <prefix> <token>`` with every request

    Attributes:
        token: The token to use for authentication
        prefix: The prefix to use for the Authorization header
        auth_header_name: The name of the Authorization header
    """

    token: str = field(kw_only=True, repr=False)
    prefix: str = field(default="Bearer", kw_only=True)
    auth_header_name: str = field(default="Authorization", kw_only=True)

    def _auth_headers(self) -> dict[str, str]:
        return {self.auth_header_name: f"{self.prefix} {self.token}" if self.prefix else self.token}
