"""URLs the user names (a path to read, a path_map target) opened through fsspec: which
text is a URL, the filesystem and inner path of one, and whether that filesystem's paths
are URLs a web server decodes. A URL's user:password is never shown in what they raise.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._exceptions import MissingDependencyError
from .._text import clip, without_userinfo
from .errors import ResultsNotReachableError

if TYPE_CHECKING:
    from .file_access import FileSystem


def is_url(path: str) -> bool:
    """Whether ``path`` is written as a URL (``scheme://...``), for fsspec to open."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.replace("+", "").replace("-", "").isalnum()


def url_to_fs(url: str) -> tuple[FileSystem, str]:
    """fsspec's filesystem of ``url`` and the path on it; MissingDependencyError when fsspec
    or the protocol's backend is missing, ResultsNotReachableError when it cannot open."""
    shown = without_userinfo(url)  # a user:password of the URL is never shown
    try:
        fsspec = importlib.import_module("fsspec")
    except ImportError:
        raise MissingDependencyError(
            f"Reading {shown} needs fsspec: pip install 'lmms-eval-client[fsspec]' "
            "(plus the fsspec backend of that protocol, e.g. s3fs or sshfs)",
            package="fsspec",
            extra="fsspec",
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(url, **_bounded(url))
    except ImportError as exc:  # fsspec is there, the protocol's backend is not
        raise MissingDependencyError(
            f"Reading {shown} needs the fsspec backend of its protocol: {exc}",
            package=getattr(exc, "name", None) or "",
            extra="fsspec",
        ) from None
    except Exception as exc:
        reason = without_userinfo(str(exc))
        raise ResultsNotReachableError(
            f"Cannot open a filesystem for {shown}: {type(exc).__name__}: {reason}",
            client_path=shown,
            reason=reason,
        ) from exc
    return fs, str(path)


# An http(s) host that accepts and never answers held a read (a path_map's results, `results
# URL`) for aiohttp's 5 minutes per request, several requests per file: each read is bounded
# as the client's own requests are (DEFAULT_TIMEOUT), not the whole download.
HTTP_CONNECT_SECONDS = 10.0
HTTP_READ_SECONDS = 60.0


def _bounded(url: str) -> dict[str, object]:
    """fsspec's options for ``url``: for http(s), aiohttp's timeouts per connect and read."""
    if url.partition("://")[0].lower() not in ("http", "https"):
        return {}
    try:
        aiohttp = importlib.import_module("aiohttp")
    except ImportError:  # fsspec's http backend needs it: said by fsspec as it opens
        return {}
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=HTTP_CONNECT_SECONDS, sock_read=HTTP_READ_SECONDS
    )
    return {"client_kwargs": {"timeout": timeout}}


TIMED_OUT = "timed out (the host did not connect or answer in time)"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, in turn (a chain is short: at most 8, a cycle too)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was caused by, a timeout (fsspec's http wraps aiohttp's in a
    FileNotFoundError, or raises its own FSTimeoutError with no message)."""
    return any(isinstance(seen, TimeoutError) for seen in _chain(exc))


def decodes_paths(filesystem: FileSystem) -> bool:
    """Whether a filesystem's paths are URLs a web server decodes (fsspec's http)."""
    protocol = getattr(filesystem, "protocol", ())
    protocols = {protocol} if isinstance(protocol, str) else set(protocol)
    return bool(protocols & {"http", "https"})


def failure_reason(exc: BaseException) -> str | None:
    """Why a remote read failed, from ``exc`` and what caused it (fsspec's http raises a
    FileNotFoundError for a host that refused, timed out or answered an error): a timeout,
    ``HTTP <status> (<reason>)``, ``cannot connect (...)``, another error; None when the
    chain holds only FileNotFoundErrors (the file is not there)."""
    for seen in _chain(exc):
        if isinstance(seen, TimeoutError):
            return TIMED_OUT
        status = getattr(seen, "status", None)
        if isinstance(status, int) and not isinstance(status, bool):  # aiohttp's answer
            if status in (404, 410):
                return None  # not there
            message = getattr(seen, "message", None)
            return f"HTTP {status}" + (f" ({clip(str(message), 100)})" if message else "")
        if not isinstance(seen, FileNotFoundError):
            text = clip(without_userinfo(str(seen)), 200)
            if isinstance(seen, ConnectionError) or "connect" in type(seen).__name__.lower():
                return f"cannot connect ({type(seen).__name__}: {text})"
            return f"{type(seen).__name__}: {text}"
    return None
