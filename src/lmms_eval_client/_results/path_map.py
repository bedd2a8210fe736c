"""Path maps: where this machine finds the folders of the server's disk.

``{"/server/dir": "/client/dir"}``, from an argument or ``$LMMS_EVAL_PATH_MAP``; the longest
matching prefix of a server path (whole components only) is replaced by its target.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from .._exceptions import InvalidArgumentError

# The environment variable read for path_map= when it is not given: where the server's
# folders are mounted here, "server_dir=local_dir,...".
PATH_MAP_ENV = "LMMS_EVAL_PATH_MAP"
"""Environment variable with a path map: ``server=client;server2=client2`` or a JSON object."""

PathMap = Mapping[str, str] | str
"""``{"/server/dir": "/client/dir", ...}``, or the same as text (see :func:`parse_path_map`)."""


def parse_path_map(text: str, source: str = PATH_MAP_ENV) -> dict[str, str]:
    """Parse a path map as ``$LMMS_EVAL_PATH_MAP`` holds it.

    Two forms: ``server=client`` pairs separated by ``;`` (each split at its first
    ``=``), or a JSON object ``{"server": "client"}`` for paths that contain ``=`` or ``;``.
    The client side may be a local path or an fsspec URL.

    >>> parse_path_map("/scratch/evals=/mnt/box/scratch/evals;/data=s3://bucket/data")
    {'/scratch/evals': '/mnt/box/scratch/evals', '/data': 's3://bucket/data'}
    """
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError) as exc:  # json recurses once a level
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise InvalidArgumentError(
                f"{source}: not valid JSON ({why}); expected "
                '{"/server/dir": "/client/dir"} or /server/dir=/client/dir;...'
            ) from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            raise InvalidArgumentError(
                f"{source}: a JSON path map must be an object of strings to strings"
            )
        return check_path_map(loaded)
    pairs: dict[str, str] = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        server, sep, client = item.partition("=")
        if not sep:
            raise InvalidArgumentError(
                f"{source}: {item.strip()!r} is not server=client; expected "
                "/server/dir=/client/dir;/other/server/dir=/other/client/dir"
            )
        pairs[server.strip()] = client.strip()
    return check_path_map(pairs)


def check_path_map(path_map: PathMap) -> dict[str, str]:
    """``path_map`` as a dict, after checking that no side is empty."""
    if isinstance(path_map, str):
        return parse_path_map(path_map, source="path_map")
    if not isinstance(path_map, Mapping):
        raise InvalidArgumentError(
            "path_map must be a mapping of server paths to client paths (or "
            f"'server=client;...' text), not {type(path_map).__name__}"
        )
    checked: dict[str, str] = {}
    for server, client in path_map.items():
        if not isinstance(server, str) or not isinstance(client, str) or not server or not client:
            raise InvalidArgumentError(
                f"path_map: {server!r} -> {client!r}: both sides must be non-empty strings"
            )
        checked[server] = client
    return checked


def effective_path_map(
    path_map: PathMap | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The path map in force: the argument when given (``{}`` turns mapping off), else
    ``$LMMS_EVAL_PATH_MAP``, else none."""
    if path_map is not None:
        return check_path_map(path_map)
    env = os.environ if environ is None else environ
    return parse_path_map(env.get(PATH_MAP_ENV, ""))


def split_server_path(server_path: str, path_map: Mapping[str, str]) -> tuple[str | None, str]:
    """The longest prefix of ``path_map`` that covers ``server_path`` (None when none
    does), and the rest of the path after it (``""`` or ``"/..."``).

    A prefix matches whole path components only: ``/data`` covers ``/data/x``, not
    ``/database/x``; and the path is read with its ``..`` and ``.`` resolved, as the
    server's disk reads it: ``/data/../etc/x`` is not under ``/data``.
    """
    if server_path.startswith("/") and "/." in server_path:
        server_path = _resolved(server_path)
    best: str | None = None
    for prefix in path_map:
        stem = prefix.rstrip("/")
        covers = (
            server_path.startswith("/")
            if not stem
            else server_path == stem or server_path.startswith(stem + "/")
        )
        if covers and (best is None or len(stem) > len(best.rstrip("/"))):
            best = prefix
    if best is None:
        return None, server_path
    return best, server_path[len(best.rstrip("/")) :]


def _resolved(path: str) -> str:
    """An absolute path with its ``.`` and ``..`` segments resolved (``..`` of the root is
    the root), its other segments as they are (a ``//`` stays: it may be a URL's)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            while len(parts) > 1 and not parts[-1]:
                parts.pop()
            if len(parts) > 1:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) or "/"


def join_target(target: str, rest: str) -> str:
    """A path map target with the rest of a server path after it."""
    return target.rstrip("/") + rest if rest else target.rstrip("/") or target


def map_server_path(server_path: str, path_map: Mapping[str, str]) -> tuple[str, str | None]:
    """``server_path`` with its longest matching prefix replaced, and that prefix (or None)."""
    prefix, rest = split_server_path(server_path, path_map)
    if prefix is None:  # read as it is: the disk resolves its "..", links included
        return server_path, None
    return join_target(path_map[prefix], rest), prefix
