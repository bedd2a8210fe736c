"""Which server a job is on: URL spellings that name one server are one server, and the
jobs of a server the run no longer reaches are never dropped silently.

A ledger records each job's server as the base URL of the client that sent it. A run
matches those against its own client's (or pool's) through ``server_identity``: scheme
and host lowercased, the default port (80, 443) made explicit, the path without its
repeated and trailing slashes, and every loopback spelling (``localhost``,
``127.x.y.z``, ``::1``) one host. A job on a server that is none of the run's is
*uncovered*: named by a warning when the run opens, by an error when ``wait`` or
``as_completed`` has nothing else left, and moved with ``run.rehome(old, new)``.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from .._exceptions import InvalidArgumentError
from .errors import RehomeConflictError

if TYPE_CHECKING:
    from .ledger import Ledger
    from .options import RetryOnFailure
    from .outcomes import TrackedJob

T = TypeVar("T")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK = "localhost"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=4096)
def _canonical(url: str) -> str | None:
    """The identity of an http(s) URL with a host; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = _LOOPBACK if _is_loopback(host) else host.lower()
    shown = f"[{host}]" if ":" in host else host
    path = re.sub(r"/+", "/", parts.path).rstrip("/")
    return f"{scheme}://{shown}:{port or _DEFAULT_PORTS[scheme]}{path}"


def server_identity(url: str) -> str:
    """The canonical form of a server's base URL: equal for two spellings of one server.

    A string that is no http(s) URL with a host is its own identity.
    """
    return _canonical(url) or url


def same_server(a: str, b: str) -> bool:
    """Whether two base URLs name one server."""
    return a == b or server_identity(a) == server_identity(b)


def client_for(clients: Mapping[str, T], server: str) -> T | None:
    """What ``clients`` (by base URL) holds for the server a job was recorded on, if any:
    the run's one lookup of a job's server."""
    found = clients.get(server)
    if found is not None:
        return found
    identity = server_identity(server)
    return next((c for url, c in clients.items() if server_identity(url) == identity), None)


def covering(servers: Iterable[str], server: str) -> str | None:
    """The base URL among ``servers`` that names the same server as ``server``, if any."""
    return client_for({url: url for url in servers}, server)


def uncovered_jobs(
    ledger: Ledger, servers: Iterable[str], retry: RetryOnFailure | None
) -> list[TrackedJob]:
    """The pending jobs (and failed ones due for a retry) on none of ``servers``."""
    reach = {server_identity(url) for url in servers}
    jobs = ledger.unfinished()
    if retry is not None:
        jobs += [job for job in ledger.unharvested() if retry.wants(job)]
    return sorted(
        (job for job in jobs if server_identity(job.server) not in reach), key=lambda j: j.seq
    )


def by_server(jobs: Iterable[TrackedJob]) -> dict[str, list[int]]:
    """The seqs of ``jobs`` by the server they were recorded on."""
    found: dict[str, list[int]] = {}
    for job in jobs:
        found.setdefault(job.server, []).append(job.seq)
    return found


def check_url(name: str, url: object) -> str:
    """A base URL argument of ``rehome``: an absolute http(s) URL with a host."""
    if not isinstance(url, str) or _canonical(url) is None:
        raise InvalidArgumentError(
            f"{name} must be a server's base URL such as 'http://gpu-box:8000', got {url!r}"
        )
    return url


def rehome_jobs(ledger: Ledger, old: str, new: str) -> list[TrackedJob]:
    """Record that the jobs on server ``old`` (any spelling) now live on ``new``: one
    transaction, an observation ``rehomed`` per job; the moved jobs. RehomeConflictError
    (nothing written) when a job id of ``old`` is one ``new`` already has."""
    now = time.time()
    old_id, new_id = server_identity(old), server_identity(new)
    with ledger.transaction("moving jobs to another server") as conn:
        rows = conn.execute("SELECT seq, server, job_id, state FROM jobs ORDER BY seq").fetchall()
        moved = [r for r in rows if server_identity(r[1]) == old_id and r[1] != new]
        seqs = {r[0] for r in moved}
        ids = Counter(r[2] for r in moved if r[2] is not None)
        taken = {r[2] for r in rows if server_identity(r[1]) == new_id and r[0] not in seqs}
        clashes = sorted(job_id for job_id, n in ids.items() if job_id in taken or n > 1)
        if clashes:
            named = [int(r[0]) for r in moved if r[2] in clashes]
            raise RehomeConflictError(
                f"The run ledger {ledger.path!r} already has jobs with the ids "
                f"{', '.join(clashes)} on {new}: the jobs of {old} with those ids (seqs "
                f"{', '.join(map(str, named))}) cannot move there; nothing was moved. A job id "
                "names one job per server: these are other jobs than the ones on the server.",
                path=ledger.path,
                job_ids=clashes,
                seqs=named,
            )
        for seq, server, _job_id, state in moved:
            conn.execute(
                "UPDATE jobs SET server = ?, updated_at = ? WHERE seq = ?", (new, now, seq)
            )
            ledger.observe(conn, seq, now, "rehomed", state, {"from": server, "to": new})
    return [ledger.job(int(r[0])) for r in moved]


def not_a_server_of_this_run(new: str, servers: tuple[str, ...]) -> InvalidArgumentError:
    """The error of ``rehome(old, new)`` (or ``rehome=``) to a server the run does not poll."""
    return InvalidArgumentError(
        f"new {new!r} is not a server of this run ({', '.join(servers)}): jobs can only "
        "move to a server the run polls"
    )


def check_run_client(client: object, client_class: type) -> None:
    """InvalidArgumentError, before a run touches its ledger, for a client of the other kind
    than ``client_class`` and its pool (it failed at the first submission: a coroutine never
    awaited, a tuple awaited, no ``servers``)."""
    if isinstance(client, client_class):
        return
    from .._pool._async.pool import AsyncEvalPool
    from .._pool._sync.pool import EvalPool

    pool = AsyncEvalPool if client_class.__name__.startswith("Async") else EvalPool
    if not isinstance(client, pool):
        raise InvalidArgumentError(
            f"this run takes an {client_class.__name__} or an {pool.__name__}; "
            f"got {type(client).__name__}"
        )


def checked_moves(
    servers: tuple[str, ...], rehome: Mapping[str, str] | None
) -> list[tuple[str, str]]:
    """The checked pairs of a run's ``rehome=``: each ``new`` as the run's own base URL
    (one of ``servers``, its client's), each ``old`` a base URL."""
    moves = []
    for old, new in (rehome or {}).items():
        target = covering(servers, check_url("new", new))
        if target is None:
            raise not_a_server_of_this_run(new, servers)
        moves.append((check_url("old", old), target))
    return moves
