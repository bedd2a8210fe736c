"""Reaching the files the server wrote: local paths, a path prefix map, fsspec filesystems.

The server reports paths on *its* disk. This module turns such a path into a place this
machine can read (a :class:`FileLocation`) and reads it, raising
:class:`ResultsNotReachableError` with the fix when it cannot. Pure and thread-safe: no
state but the arguments, so the async client runs it in a worker thread.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable
from urllib.parse import quote

from .._checks import check_path
from .._exceptions import InvalidArgumentError
from .._text import without_userinfo
from .bounded import (
    LimitExceeded,
    NotRegularFile,
    describe_size,
    open_regular,
    read_at_most,
    remote_kind,
)
from .errors import ResultsFormatError, ResultsNotReachableError, ResultsTooLargeError
from .path_map import (
    PATH_MAP_ENV,
    PathMap,
    effective_path_map,
    join_target,
    map_server_path,
    split_server_path,
)
from .url_filesystems import TIMED_OUT, decodes_paths, failure_reason, is_url, timed_out, url_to_fs


@runtime_checkable
class FileSystem(Protocol):
    """What this SDK needs of a filesystem: any ``fsspec.AbstractFileSystem`` has it.

    Example::

        import fsspec
        fs = fsspec.filesystem("sftp", host="gpu-box", username="me")
        results = EvalResults.load("/scratch/evals/run/model/20261202_055237_results.json",
                                   filesystem=fs)
    """

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[bytes]:
        """Open ``path`` (only ``"rb"`` is used)."""
        ...

    def exists(self, path: str, **kwargs: Any) -> bool:
        """Whether ``path`` exists."""
        ...

    def isdir(self, path: str) -> bool:
        """Whether ``path`` is a directory."""
        ...

    def glob(self, path: str, **kwargs: Any) -> Any:
        """The paths matching a glob pattern (fsspec returns a list of str)."""
        ...


@dataclass(frozen=True)
class FileLocation:
    """Where a file is for this machine, and where the server said it was.

    ``filesystem`` None means the local filesystem (``open()``), else an fsspec-like one.
    """

    path: str
    filesystem: FileSystem | None = None
    server_path: str | None = None
    mapped_prefix: str | None = None
    path_map_target: str | None = None

    @property
    def display(self) -> str:
        """The location as a person would write it (a URL for a remote filesystem, without
        its user:password: this is what messages, reprs and output show)."""
        if self.filesystem is None:
            return self.path
        try:  # a URL (a third-party filesystem may not say: its plain path is still useful)
            shown = str(self.filesystem.unstrip_protocol(self.path))  # type: ignore[attr-defined]
        except Exception:
            shown = self.path
        return without_userinfo(shown)

    @property
    def name(self) -> str:
        """The file name (the last path component)."""
        return posixpath.basename(self.path.replace("\\", "/").rstrip("/"))

    def _with_path(self, path: str, server_path: str | None) -> FileLocation:
        return FileLocation(
            path, self.filesystem, server_path, self.mapped_prefix, self.path_map_target
        )

    def parent(self) -> FileLocation:
        """The folder that holds this file (on the server too, when known)."""
        if self.filesystem is None:
            path = str(Path(self.path).parent)
        else:
            path = posixpath.dirname(self.path.rstrip("/"))
        server = posixpath.dirname(self.server_path.rstrip("/")) if self.server_path else None
        return self._with_path(path, server)

    def child(self, name: str) -> FileLocation:
        """The file ``name`` inside this folder."""
        if self.filesystem is None:
            path = str(Path(self.path) / name)
        else:
            path = f"{self.path.rstrip('/')}/{name}"
        server = f"{self.server_path.rstrip('/')}/{name}" if self.server_path else None
        return self._with_path(path, server)

    def missing(self) -> str | None:
        """Why the file or folder cannot be found here (``"no such file"``, an HTTP error,
        a refused connection, a timeout), or None when it is there."""
        if self.filesystem is None:
            return None if os.path.exists(self.path) else "no such file"
        try:
            info = getattr(self.filesystem, "info", None)
            if callable(info):  # fsspec's: its error says why (exists() says False)
                info(self.path)
                return None
            return None if self.filesystem.exists(self.path) else "no such file"
        except FileNotFoundError as exc:
            return failure_reason(exc) or "no such file"
        except Exception as exc:
            return failure_reason(exc)

    def is_dir(self) -> bool:
        """Whether it is a folder."""
        if self.filesystem is None:
            return os.path.isdir(self.path)
        try:
            return bool(self.filesystem.isdir(self.path))
        except Exception:
            return False

    def list_names(self, pattern: str) -> list[str]:
        """Names of the entries of this folder that match a glob ``pattern``, sorted."""
        if self.filesystem is None:
            try:
                names = os.listdir(self.path)
            except OSError:
                return []
        else:
            try:
                # the folder's own name is not a pattern ("out[1]" is not "out1")
                found = self.filesystem.glob(f"{glob.escape(self.path.rstrip('/'))}/{pattern}")
            except Exception:
                return []
            names = [posixpath.basename(str(p).rstrip("/")) for p in found]
        return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))

    def not_reachable(self, reason: str) -> ResultsNotReachableError:
        """The error for this location being unreachable, with how to fix it."""
        return ResultsNotReachableError(
            self._not_reachable_message(reason),
            server_path=self.server_path,
            client_path=self.display,
            reason=reason,
        )

    def _not_reachable_message(self, reason: str) -> str:
        where = self.display
        if self.server_path is None:
            return f"{where}: {reason}."
        head = f"The server's file {self.server_path} is not reachable here: {where}: {reason}."
        if self.mapped_prefix is not None:
            return (
                f"{head} path_map maps {self.mapped_prefix!r} to "
                f"{without_userinfo(str(self.path_map_target))!r}: is "
                "that mounted here, and is it the same folder as the server's?"
            )
        if self.filesystem is not None:
            return f"{head} Check that the filesystem given reaches the server's disk."
        folder = posixpath.dirname(posixpath.dirname(self.server_path)) or "/"
        return (
            f"{head} Results are files on the server's disk: read them on the server's machine "
            "or over a shared filesystem mounted at the same path; or map the server's folder "
            f"to where it is mounted here, path_map={{{folder!r}: '/mnt/...'}} (or "
            f"{PATH_MAP_ENV}='{folder}=/mnt/...'); or pass filesystem= an fsspec filesystem "
            "that reaches the server (pip install 'lmms-eval-client[fsspec]')."
        )

    @contextmanager
    def open_binary(self) -> Iterator[IO[bytes]]:
        """Open the file for reading; a folder, FIFO or device is a ResultsFormatError (it
        is not opened), a missing or unreadable file a ResultsNotReachableError."""
        try:
            if self.filesystem is None:
                handle = open_regular(self.path)
            else:
                if callable(getattr(self.filesystem, "info", None)):
                    kind = remote_kind(self.filesystem, self.path)
                else:  # not fsspec's: it can tell a folder only
                    kind = "a directory" if self.is_dir() else None
                if kind is not None:
                    raise NotRegularFile(kind)
                handle = self.filesystem.open(self.path, "rb")
        except NotRegularFile as exc:
            if exc.kind == "a directory":
                raise self.is_a_directory() from None
            raise self.not_regular(exc.kind) from None
        except FileNotFoundError as exc:  # (fsspec's http: of a host down, an HTTP error too)
            raise self.not_reachable(failure_reason(exc) or "no such file") from None
        except PermissionError:
            raise self.not_reachable("permission denied") from None
        except IsADirectoryError:
            raise self.is_a_directory() from None
        except Exception as exc:  # OSError, or whatever a remote filesystem raises
            why = TIMED_OUT if timed_out(exc) else f"{type(exc).__name__}: {exc}"
            raise self.not_reachable(why) from exc
        with handle:
            yield handle

    def read_bytes(self, max_bytes: int) -> bytes:
        """The whole file, or ResultsTooLargeError when it has more than ``max_bytes``."""
        with self.open_binary() as handle:
            try:
                return read_at_most(handle, max_bytes)
            except LimitExceeded:
                raise self.too_large(max_bytes) from None
            except MemoryError:  # not a reachability problem: say what it is
                raise
            except Exception as exc:
                raise self.not_reachable(f"reading failed: {type(exc).__name__}: {exc}") from exc

    def too_large(self, limit: int, line: int | None = None) -> ResultsTooLargeError:
        """The error for a file (or a samples ``line``) beyond ``limit`` bytes."""
        size = describe_size(limit)
        if line is None:
            message = (
                f"{self.display} is larger than max_bytes = {size}; reading stopped there. "
                "lmms-eval's results files are a few MB: is this one? If it is, pass a "
                "larger max_bytes (EvalResults.load, load_job_results, results_of_job)."
            )
        else:
            message = (
                f"{self.display}, line {line}: longer than max_line_bytes = {size}; reading "
                "stopped there, before holding the line whole. If the line is legitimate, "
                "pass a larger max_line_bytes (samples(), iter_samples)."
            )
        return ResultsTooLargeError(message, path=self.display, limit=limit, line=line)

    def not_regular(self, kind: str) -> ResultsFormatError:
        """The error for a path that is a FIFO, a device or another special file."""
        reason = f"{kind}, not a regular file"
        server = f"The server's file {self.server_path}: " if self.server_path else ""
        return ResultsFormatError(
            f"{server}{self.display} is {reason}; it is not opened, as reading it could "
            "block for good or never end. lmms-eval writes regular files.",
            path=self.display,
            reason=reason,
        )

    def is_a_directory(self) -> ResultsFormatError:
        """The error for a folder given where a file was expected."""
        found = self.list_names("*_results.json")
        hint = f" It holds {', '.join(found[:5])}." if found else ""
        return ResultsFormatError(
            f"{self.display} is a directory, not a results file.{hint}",
            path=self.display,
            reason="a directory",
        )


def check_filesystem(filesystem: object) -> FileSystem | None:
    """``filesystem`` when it is None or fsspec-like, else an InvalidArgumentError."""
    if filesystem is None or isinstance(filesystem, FileSystem):
        return filesystem
    raise InvalidArgumentError(
        "filesystem must be an fsspec filesystem (with open, exists, isdir and glob), not "
        f"{type(filesystem).__name__}; for a URL, give the URL as the path or as a path_map "
        "target instead"
    )


def client_location(path: str | os.PathLike[str], filesystem: FileSystem | None) -> FileLocation:
    """A path given by the user on this machine: local, an fsspec URL, or on ``filesystem``."""
    filesystem = check_filesystem(filesystem)
    text = check_path("path", path)
    if filesystem is not None:
        return FileLocation(text, filesystem)
    if is_url(text):
        fs, inner = url_to_fs(text)
        return FileLocation(inner, fs)
    return FileLocation(text)


def server_location(
    server_path: str,
    *,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
    user_given: bool = False,
) -> FileLocation:
    """Where this machine reads a file the server reports at ``server_path``.

    The path map (argument, else ``$LMMS_EVAL_PATH_MAP``) is applied first; the result is
    opened on ``filesystem`` when given, through fsspec when the map's target is a URL,
    else locally. A URL the server wrote is not followed (a ResultsNotReachableError), as
    the client would connect wherever a server says; ``user_given`` paths (the user typed
    them) may be URLs.
    """
    if not isinstance(server_path, str) or not server_path:
        raise InvalidArgumentError(f"server path must be a non-empty str, not {server_path!r}")
    filesystem = check_filesystem(filesystem)
    mapping = effective_path_map(path_map)
    prefix, rest = split_server_path(server_path, mapping)
    target = mapping[prefix] if prefix is not None else None
    if filesystem is not None:  # the user's filesystem: every path is read on it
        if target is not None and (_is_web(target) or decodes_paths(filesystem)):
            rest = quote(rest, safe="/")  # as below: "%2e%2e" is no ".." of a web server
        mapped = join_target(target, rest) if target is not None else server_path
        return FileLocation(mapped, filesystem, server_path, prefix, target)
    if target is not None and is_url(target):
        # Only the user's target is parsed as a URL; the server's rest is a path on it
        # (never fsspec syntax: a "::" chain or a second URL in it changes nothing).
        fs, root = url_to_fs(target)
        if decodes_paths(fs):  # the server's folder "%2e%2e" is ".." to a web server
            rest = quote(rest, safe="/")
        return FileLocation(join_target(root, rest), fs, server_path, prefix, target)
    mapped = join_target(target, rest) if target is not None else server_path
    if is_url(mapped):
        if not user_given:
            raise _url_not_followed(server_path)
        fs, inner = url_to_fs(mapped)
        return FileLocation(inner, fs, server_path, prefix, target)
    return FileLocation(mapped, None, server_path, prefix, target)


def _is_web(target: str) -> bool:
    """Whether a path map's target is an http(s) URL (its paths a web server decodes)."""
    return is_url(target) and target.partition("://")[0].lower() in ("http", "https")


def _url_not_followed(server_path: str) -> ResultsNotReachableError:
    scheme, _, after = server_path.partition("://")
    folder = f"{scheme}://{posixpath.dirname(posixpath.dirname(after)) or after}"
    return ResultsNotReachableError(
        f"The server reports its file as a URL, {server_path}: it is not followed. A "
        "server's answer names paths on its disk (lmms-eval writes no URLs), and a URL "
        "there would make this client connect wherever the server says. If this machine "
        f"should read it there, say so: map it, path_map={{{folder!r}: '<that URL, or where "
        "it is mounted here>'}, or pass filesystem= an fsspec filesystem to open the "
        "server's paths on.",
        server_path=server_path,
        reason="a URL from the server is not followed",
    )


def resolve_server_path(
    server_path: str,
    *,
    path_map: PathMap | None = None,
) -> str:
    """The path (or URL) where this machine reads a file the server reports at ``server_path``.

    Applies ``path_map`` (else ``$LMMS_EVAL_PATH_MAP``); does not touch any file.

    >>> resolve_server_path("/scratch/evals/a/m/x_results.json",
    ...                     path_map={"/scratch/evals": "/mnt/box/evals"})
    '/mnt/box/evals/a/m/x_results.json'
    """
    if not isinstance(server_path, str) or not server_path:
        raise InvalidArgumentError(f"server path must be a non-empty str, not {server_path!r}")
    return map_server_path(server_path, effective_path_map(path_map))[0]
