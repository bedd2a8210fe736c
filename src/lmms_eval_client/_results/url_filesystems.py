"""URLs the user names (a path to read, a path_map target) opened through fsspec: which
text is a URL, the filesystem and inner path of one, and whether that filesystem's paths
are URLs a web server decodes. A URL's user:password is never shown in what they raise.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .._exceptions import MissingDependencyError
from .._text import without_userinfo
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
        fs, path = fsspec.core.url_to_fs(url)
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


def decodes_paths(filesystem: FileSystem) -> bool:
    """Whether a filesystem's paths are URLs a web server decodes (fsspec's http)."""
    protocol = getattr(filesystem, "protocol", ())
    protocols = {protocol} if isinstance(protocol, str) else set(protocol)
    return bool(protocols & {"http", "https"})
