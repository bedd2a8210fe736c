"""A pool's settings: its servers (argument, else ``$LMMS_EVAL_BASE_URLS``), caps, intervals."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar, cast

from .._checks import check_count, check_seconds
from .._exceptions import InvalidArgumentError
from .._http.config import BASE_URL_ENV, DEFAULT_BASE_URL, resolve_base_url
from .._runs.servers import server_identity
from .._text import shown

# The environment variable read for a pool's servers when none are given: base URLs
# separated by commas.
BASE_URLS_ENV = "LMMS_EVAL_BASE_URLS"
DEFAULT_LISTING_TTL = 600.0  # /tasks takes seconds on a real server and blocks it meanwhile
DEFAULT_RECHECK_INTERVAL = 5.0  # how often a server that is down is tried again

C = TypeVar("C")


def server_entries(servers: Sequence[str | C] | str | None, client_type: type[C]) -> list[str | C]:
    """The pool's servers: URLs (checked here, before any client is made) or clients.

    A str is a comma-separated list of URLs; None reads ``$LMMS_EVAL_BASE_URLS`` (the
    same), else the one server a client would use (``$LMMS_EVAL_BASE_URL`` or localhost).
    """
    if servers is None:
        servers = os.environ.get(BASE_URLS_ENV, "").strip() or [
            os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        ]
    if isinstance(servers, str):
        entries: list[str | C] = [u.strip() for u in servers.split(",") if u.strip()]
    elif isinstance(servers, Sequence):
        entries = list(servers)
    else:
        raise InvalidArgumentError(
            f"servers must be a list of base URLs or clients, got {shown(servers)}"
        )
    if not entries:
        raise InvalidArgumentError(
            f"a pool needs at least one server: a list of base URLs, or ${BASE_URLS_ENV}"
        )
    urls = []
    for entry in entries:
        if isinstance(entry, str):
            urls.append(resolve_base_url(entry)[0])  # refused here, before any client exists
        elif isinstance(entry, client_type):
            urls.append(getattr(entry, "base_url", ""))
        else:
            raise InvalidArgumentError(
                f"each server must be a base URL or a {client_type.__name__}, "
                f"got {type(entry).__name__}"
            )
    # Two spellings of one server (localhost and 127.0.0.1, a default port given or not)
    # are one: its jobs' ids would be found on "both" (AmbiguousJobIdError), its load split.
    names: dict[str, list[str]] = {}
    for url in urls:
        names.setdefault(server_identity(url), []).append(url)
    duplicates = [" and ".join(dict.fromkeys(given)) for given in names.values() if len(given) > 1]
    if duplicates:
        raise InvalidArgumentError(f"a server is given twice: {'; '.join(duplicates)}")
    return entries


def server_caps(cap: int | Sequence[int | None] | None, count: int) -> list[int | None]:
    """One cap per server (None: no cap) from one for all or one per server."""
    if isinstance(cap, Sequence) and not isinstance(cap, (str, bytes)):
        caps: list[object] = list(cap)
    else:  # one for all: an int, None, or what is refused below with its value (a float)
        caps = [cap] * count
    if len(caps) != count:
        raise InvalidArgumentError(
            f"max_jobs_per_server has {len(caps)} entries for {count} servers"
        )
    for c in caps:
        if c is not None:
            check_count("max_jobs_per_server", c, alternatives="or None: no cap")
    return cast("list[int | None]", caps)


def check_interval(name: str, value: object) -> float:
    """A number of seconds >= 0 (0: always refresh)."""
    return check_seconds(name, value, zero=True)
