"""A client's configuration: defaults, environment variables, base URL, headers and auth.

Precedence everywhere: constructor argument > environment variable > default. An injected
httpx client is used as it is, so the options that would configure ours are refused.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .._checks import check_count, check_seconds
from .._exceptions import InvalidArgumentError
from .._text import REDACTED, is_secret_header, without_userinfo
from .._version import __version__

if TYPE_CHECKING:
    import ssl

DEFAULT_BASE_URL = "http://localhost:8000"
BASE_URL_ENV = "LMMS_EVAL_BASE_URL"
API_KEY_ENV = "LMMS_EVAL_API_KEY"
# Finite, so a hung connection cannot hang a caller forever, yet generous: GET /tasks indexes
# every task YAML on the server and takes seconds, during which the server answers nothing else.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# The server merges a checkpoint synchronously, and a large one takes many minutes: a
# merge's own default budget is an hour (lmms-eval's client waited without a limit).
MERGE_TIMEOUT = httpx.Timeout(3600.0, connect=10.0)
# Lines of an evaluation log eval_log() gives by default: as many as the server quotes in a
# failed job's error.
DEFAULT_LOG_LINES = 50
# httpx's own default pool size, but every connection may stay alive: many concurrent waits
# otherwise keep closing and reopening connections (20 kept alive is httpx's default).
# An idle connection is dropped after 1 s, before the server can close it: uvicorn (which
# lmms-eval runs) closes idle connections after 5 s, gunicorn's uvicorn workers after 2 s,
# and a request sent as the server closes fails as "may have been sent", which for a job
# submission is a false "the job may exist" (httpx keeps idle connections 5 s).
KEEPALIVE_EXPIRY = 1.0
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_EXPIRY
)
USER_AGENT = f"lmms-eval-client/{__version__} httpx/{httpx.__version__}"
# RFC 9110 token characters: anything else in a header name breaks the request line.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Framing and connection headers belong to the HTTP layer: a caller's value would make the
# request malformed (h11 refuses it only after the request has started to go out).
_TRANSPORT_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "host", "connection", "keep-alive", "te", "trailer",
     "upgrade"}
)  # fmt: skip


@dataclass(frozen=True)
class ClientConfig:
    """The resolved settings of a client (constructor argument > environment > default)."""

    base_url: str
    timeout: httpx.Timeout
    headers: httpx.Headers
    http2: bool
    limits: httpx.Limits
    auth: httpx.BasicAuth | None


def resolve_base_url(base_url: str | None) -> tuple[str, httpx.BasicAuth | None]:
    """The base URL from the argument, else $LMMS_EVAL_BASE_URL, else localhost:8000; checked.

    A ``user:password@`` in it becomes HTTP basic auth, so that the password is not part
    of any URL that httpx or this client logs or shows.
    """
    url = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(url, str):
        raise InvalidArgumentError(f"base_url must be a str, got {type(url).__name__}")
    # One URL: everything up to its last "@" is credentials. A password holding "/", "?"
    # or "#" ends the authority early (another host, a password shown as a port).
    scheme, slashes, rest = url.partition("//")
    userinfo, at, host = rest.rpartition("@")
    shown = f"{scheme}//***@{host}" if slashes and at else without_userinfo(url)
    # nor a query or fragment: they may hold a key (?api_key=...)
    shown = re.sub(r"([?#]).*", r"\1...", shown, count=1, flags=re.DOTALL)
    if slashes and at and any(ch in userinfo for ch in "/?#"):
        raise InvalidArgumentError(
            f"base_url {shown!r} has an '@' after a '/', '?' or '#'. A password holding "
            "them must have them percent-encoded (urllib.parse.quote(password, safe='')),"
            " and an '@' in the path is written %40 (the URL is not shown: it may hold a "
            "password)"
        )
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, UnicodeError) as exc:
        why = "" if "@" in url else f": {exc}"  # (its text may quote a piece of a password)
        raise InvalidArgumentError(f"base_url {shown!r} is not a valid URL{why}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgumentError(
            f"base_url {shown!r} must be an absolute http(s) URL with a host, "
            "e.g. 'http://localhost:8000'"
        )
    if b"?" in parsed.raw_path or parsed.fragment or "#" in url:
        # Paths are appended to the base URL: a query or fragment would swallow them.
        raise InvalidArgumentError(
            f"base_url {shown!r} must not have a query or fragment; "
            "send extra parameters as headers instead"
        )
    try:
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidArgumentError(f"base_url {shown!r} has an invalid port: {exc}") from None
    if port is not None and not 0 < port < 65536:
        # httpx would wrap it silently (109189 becomes 43653): another server, maybe.
        raise InvalidArgumentError(f"base_url {shown!r}: port {port} is not in 1-65535")
    auth = None
    if parsed.userinfo:
        auth = httpx.BasicAuth(parsed.username, parsed.password)
        parsed = parsed.copy_with(username=None, password=None)
    if ":" in parsed.host:  # an IPv6 address, spelt one way: [::1], not [0:0:0:0:0:0:0:1]
        with contextlib.suppress(ValueError):
            parsed = parsed.copy_with(host=ipaddress.ip_address(parsed.host).compressed)
    return str(parsed).rstrip("/"), auth


def _is_header_text(value: str) -> bool:
    """Printable ASCII, no control characters, no space at either end (h11 refuses those)."""
    return value.isascii() and all(32 <= ord(ch) < 127 for ch in value) and value == value.strip()


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Extra headers as a dict, each name and value one a request can carry."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidArgumentError(f"headers must be a mapping, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidArgumentError(
                f"header name {name!r} is not a valid HTTP header name (letters, digits and "
                "!#$%&'*+-.^_`|~ only)"
            )
        if name.lower() in _TRANSPORT_HEADERS:
            raise InvalidArgumentError(
                f"header {name!r} is set by the HTTP layer and cannot be given in headers"
            )
        if not isinstance(value, str) or not _is_header_text(value):
            shown = REDACTED if is_secret_header(name) else repr(value)
            raise InvalidArgumentError(
                f"header {name!r}: value {shown} must be a str of printable ASCII characters, "
                "without spaces at either end"
            )
        checked[name] = value
    return checked


def check_request_timeout(timeout: object) -> httpx.Timeout:
    """A request's timeout: seconds, an httpx.Timeout whose every phase is valid, or None."""
    if timeout is None:
        return httpx.Timeout(None)
    if isinstance(timeout, httpx.Timeout):
        parts = {
            "connect": timeout.connect,
            "read": timeout.read,
            "write": timeout.write,
            "pool": timeout.pool,
        }
        for part, value in parts.items():
            if value is not None:
                check_seconds(f"timeout.{part}", value, alternatives="or None")
        return timeout
    seconds = check_seconds("timeout", timeout, alternatives="an httpx.Timeout, or None for none")
    return httpx.Timeout(seconds)


def resolve_config(
    base_url: str | None,
    timeout: float | httpx.Timeout | None,
    headers: Mapping[str, str] | None,
    api_key: str | None,
    http2: bool,
    limits: httpx.Limits | None,
) -> ClientConfig:
    """Resolve and check every constructor setting of a client that builds its own httpx client."""
    checked_timeout = check_request_timeout(timeout)
    if limits is not None and not isinstance(limits, httpx.Limits):
        raise InvalidArgumentError(f"limits must be an httpx.Limits, got {limits!r}")
    merged = httpx.Headers({"User-Agent": USER_AGENT})
    merged.update(check_headers(headers))  # case-insensitive: a given User-Agent replaces ours
    key, key_source = api_key, "api_key"
    if key is None and "authorization" not in merged:
        key, key_source = os.environ.get(API_KEY_ENV), f"${API_KEY_ENV}"
    if key is not None and not isinstance(key, str):
        raise InvalidArgumentError(f"api_key must be a str, got {type(key).__name__}")
    if key:
        if not _is_header_text(key) or " " in key:
            # Never echo the key itself.
            raise InvalidArgumentError(
                f"{key_source} must be printable ASCII without spaces, line breaks or control "
                "characters (check for a trailing space or newline)"
            )
        merged["Authorization"] = f"Bearer {key}"
    url, auth = resolve_base_url(base_url)
    if auth is not None and "authorization" in merged:
        # httpx would send the basic auth and silently drop the other credential.
        given = key_source if key else "the Authorization header"
        raise InvalidArgumentError(
            f"base_url carries a user:password and {given} gives credentials too: "
            "give only one of them"
        )
    return ClientConfig(
        base_url=url,
        auth=auth,
        timeout=checked_timeout,
        headers=merged,
        http2=http2,
        limits=limits if limits is not None else DEFAULT_LIMITS,
    )


def check_injected_client_type(owner: str, wanted: type[Any], client: object) -> None:
    """EvalClient needs an httpx.Client, AsyncEvalClient an httpx.AsyncClient."""
    if not isinstance(client, wanted):
        raise InvalidArgumentError(
            f"{owner} needs an httpx.{wanted.__name__} as http_client, "
            f"got {type(client).__module__}.{type(client).__name__}"
        )


def check_injected_client_options(
    headers: Mapping[str, str] | None,
    api_key: str | None,
    timeout: float | httpx.Timeout | None,
    http2: bool,
    limits: httpx.Limits | None,
) -> None:
    """An injected httpx client is used as it is: refuse options we could not apply to it."""
    given = [
        name
        for name, is_set in (
            ("headers", headers is not None),
            ("api_key", api_key is not None),
            ("timeout", timeout is not DEFAULT_TIMEOUT),
            ("http2", http2),
            ("limits", limits is not None),
        )
        if is_set
    ]
    if given:
        raise InvalidArgumentError(
            f"{', '.join(given)} cannot be applied to an injected http_client: "
            "configure them on the httpx client you pass"
        )


def adopt_base_url(client: httpx.Client | httpx.AsyncClient, base_url: str | None) -> str:
    """Give an injected httpx client without a base URL ours; return the URL it will use."""
    current = str(client.base_url).rstrip("/")
    if current and base_url is None:
        return without_userinfo(current)
    url, auth = resolve_base_url(base_url)
    if auth is not None:
        raise InvalidArgumentError(
            "a user:password in base_url cannot be applied to an injected http_client: "
            "give the httpx client auth= instead"
        )
    if current:
        if url != current:
            raise InvalidArgumentError(
                f"base_url {url!r} differs from the injected http_client's base_url "
                f"{without_userinfo(current)!r}: pass one of them"
            )
        return without_userinfo(current)
    client.base_url = httpx.URL(url)
    return url


@functools.lru_cache(maxsize=8)
def _ssl_context(http2: bool, ca: tuple[object, ...], key_log: str | None) -> ssl.SSLContext:
    del http2, ca, key_log  # the cache key: create_ssl_context reads the environment
    return httpx.create_ssl_context()


def _file_version(path: str) -> tuple[object, ...]:
    """What changes when a file is replaced or rewritten: ctime too, which a copy that
    keeps timestamps (``cp -p``, ``rsync -a``) cannot set back, unlike mtime."""
    try:
        st = os.stat(path)
    except OSError:
        return (os.path.abspath(path),)  # httpx says what is wrong, if anything
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns)  # fmt: skip


def shared_ssl_context(http2: bool) -> ssl.SSLContext:
    """The TLS context our httpx clients verify servers with: httpx's default, built once.

    Building it loads the CA bundle, ~50 ms, which every httpx client otherwise pays at
    construction (a pool of servers, a client per thread or per test). Keyed on all that
    httpx and ssl read when building it: the CA bundle in effect ($SSL_CERT_FILE, else
    $SSL_CERT_DIR, else certifi's) and its version on disk, so a client made after a CA
    rotation reads the new one; $SSLKEYLOGFILE; and ``http2``, because httpcore sets the
    ALPN protocols on the context at each connection, so clients sharing one must set the
    same ones.
    """
    cert_file = os.environ.get("SSL_CERT_FILE") or None
    cert_dir = None if cert_file else os.environ.get("SSL_CERT_DIR") or None
    path = cert_file or cert_dir
    if path is None:
        import certifi  # httpx's dependency, and its default bundle

        path = certifi.where()
    try:
        return _ssl_context(http2, _file_version(path), os.environ.get("SSLKEYLOGFILE"))
    except OSError as exc:  # ssl.SSLError is one too: a file that is not PEM certificates
        source = (
            f"$SSL_CERT_FILE ({cert_file})" if cert_file
            else f"$SSL_CERT_DIR ({cert_dir})" if cert_dir
            else f"certifi's bundle ({path})"
        )  # fmt: skip
        raise InvalidArgumentError(
            f"the CA certificates in {source} could not be loaded: {exc}; "
            "point $SSL_CERT_FILE at a PEM file of CA certificates (or $SSL_CERT_DIR at a "
            "folder of them), or unset it"
        ) from exc


@functools.cache
def plaintext_ssl_context() -> ssl.SSLContext:
    """The TLS context of a client of an ``http://`` server, which never makes a TLS
    connection (it sends only to its base URL and follows no redirect): httpx wants one at
    construction, and this one loads no CA bundle (~40 ms at a process's first client, the
    start of every command line call). Verifying, with nothing to trust: used for TLS by
    mistake, it refuses every certificate."""
    import ssl

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def httpx_client_kwargs(config: ClientConfig) -> dict[str, Any]:
    """Keyword arguments for httpx.Client / httpx.AsyncClient from a resolved config."""
    plain = config.base_url.lower().startswith("http:")  # anything else verifies
    return {
        "base_url": config.base_url,
        "verify": plaintext_ssl_context() if plain else shared_ssl_context(config.http2),
        "timeout": config.timeout,
        "headers": config.headers,
        "http2": config.http2,
        "limits": config.limits,
        "auth": config.auth,
    }


HttpClientT = TypeVar("HttpClientT", httpx.Client, httpx.AsyncClient)


def build_http_client(factory: type[HttpClientT], kwargs: dict[str, Any]) -> HttpClientT:
    """Build our httpx client; a missing optional dependency becomes an actionable error."""
    try:
        return factory(**kwargs)
    except ImportError as exc:  # http2=True without the h2 package
        raise InvalidArgumentError(
            f"{str(exc).rstrip('.')}. Install the http2 extra: "
            "pip install 'lmms-eval-client[http2]'"
        ) from exc


def check_max_retries(max_retries: object) -> int:
    """max_retries must be a count: 0 disables retries."""
    return check_count("max_retries", max_retries, 0)
