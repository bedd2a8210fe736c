"""A run's ledger copied into another store (``runs migrate``): typically a SQLite file
into a PostgreSQL schema, so that many machines can share the run; any direction works.

The copy is row for row: every job keeps its seq (keys, retries and ``runs show N`` still
name the same jobs), every observation its id, every sink write its row, and the target
takes the source's fingerprint key, so the fingerprints of secret model_args the copied
requests hold still match what a resumed run computes. It is one transaction of the
target: a failure copies no row (a target the copy created stays, an empty ledger). The
source is only read.

A process still writing the source would go on writing it alone: what it records after the
copy (submissions, outcomes taken) is not in the copy, and a run moved to the copy would
submit its keys again. So the copy is refused, nothing written, while one may
(``live_writers``): a process of this host that holds the SQLite file open for writing
(read in ``/proc``: a run open, a ``runs watch``), or a run of this process still open,
whatever is said; and, unless the caller says they stopped (``writers_stopped``), a
process that wrote it (a job's ``owner`` or a claim's holder, ``host:pid:random``) and
cannot be checked from here: of another host or PID namespace, or alive on this host for
a PostgreSQL ledger (whose connections name no process) or another user's. One alive on
this host without the file open (its run closed: a notebook's kernel) is named by a
UserWarning: it would write the source again if it reopened its run. A pid held by a
process started after the write it is recorded with is not that writer (reused).
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Sequence
from contextlib import closing
from typing import Any, NamedTuple

from .._exceptions import InvalidArgumentError
from .ledger import Ledger
from .ledger_store import LedgerConnection
from .options import _this_host, owner_is_gone
from .postgres.url import is_database_url
from .sqlite_store import SqliteStore

# PostgreSQL's identity columns do not follow explicit values (SQLite's AUTOINCREMENT
# does): moved past the copied ids, or the next submission would collide with a copied seq.
_PG_SEQUENCES = (
    "SELECT setval(pg_get_serial_sequence('jobs', 'seq'), max(seq)) FROM jobs",
    "SELECT setval(pg_get_serial_sequence('observations', 'id'), max(id)) FROM observations",
)


def copy_ledger(
    source: str | os.PathLike[str], target: str, *, writers_stopped: bool = False
) -> int:
    """Copy the ledger at ``source`` into ``target`` (each a SQLite file or a PostgreSQL URL
    ``postgresql://user@host/db?schema=RUN``); the number of jobs copied.

    The source is opened read-only; the target is created if missing, and must hold no job
    (InvalidArgumentError otherwise, and nothing is written). A resumed ``EvalRun`` on the
    target sees the same jobs, history and table, and submits after the copied seqs.
    ``writers_stopped``: the writers the source names that cannot be checked from here
    (see the module) have stopped; a process of this host holding it open for writing is
    refused all the same.

    Raises InvalidArgumentError (a target that holds jobs; a source a process may still
    write, nothing copied: see the module), and the LedgerError family for a ledger that
    cannot be opened, read or written. Warns (UserWarning) of a live process of this host
    that wrote the source, its run closed.

    Example::

        copy_ledger("evals.sqlite", "postgresql://evals@db.internal/evals?schema=sweep")
    """
    with closing(Ledger(source, read_only=True)) as read:
        path = None if is_database_url(os.fspath(source)) else os.fspath(source)
        _refuse_writers(read, live_writers(read, path), writers_stopped=writers_stopped)
        jobs = read.rows("SELECT * FROM jobs ORDER BY seq")
        last = max((int(job["seq"]) for job in jobs), default=0)
        # Rows of jobs read above only: a row appended since would lack its job.
        observations = read.rows("SELECT * FROM observations WHERE seq <= ? ORDER BY id", (last,))
        sink_writes = (
            read.rows("SELECT * FROM sink_writes WHERE seq <= ? ORDER BY sink, seq", (last,))
            if read.store.has_table("sink_writes")
            else []
        )
        keys = read.rows("SELECT name, value FROM ledger_keys") if _has_keys(read) else []
    with closing(Ledger(target)) as write:
        _refuse_jobs(write, write.rows("SELECT count(*) AS n FROM jobs"))
        with write.transaction("copying a ledger") as conn:
            # Again under the target's lock: a writer may have come between.
            _refuse_jobs(write, [{"n": conn.execute("SELECT count(*) FROM jobs").fetchone()[0]}])
            _insert_jobs(conn, jobs)
            _insert(conn, "observations", observations)
            _insert(conn, "sink_writes", sink_writes)
            for key in keys:
                _replace_key(conn, str(key["name"]), bytes(key["value"]))
            if not isinstance(write.store, SqliteStore):
                for statement in _PG_SEQUENCES:
                    conn.execute(statement)
    return len(jobs)


class Writers(NamedTuple):
    """The processes that may write a ledger, each ``pid@host``: ``open``, those of this host
    that have it open for writing now (a SQLite file, seen in ``/proc``; a run of this
    process); ``unchecked``, those that wrote it and may live, which cannot be checked from
    here (of another host or PID namespace; alive on this host, for a PostgreSQL ledger or
    another user's process); ``idle``, those of this host that wrote it and live, without
    it open (their run closed), which would write it again if they reopened it."""

    open: list[str]
    unchecked: list[str]
    idle: list[str]


def live_writers(ledger: Ledger, path: str | None) -> Writers:
    """Who may write ``ledger`` (at ``path``, a SQLite file's; None: a PostgreSQL schema):
    every process of this host holding the file open for writing, and the writers the
    ledger names (its jobs' owners, its claims' holders: ``host:pid:random``) whose process
    lives or cannot be checked; each once, the writers in the order they first wrote."""
    rows = ledger.rows(
        "SELECT owner AS who, min(created_at) AS at FROM jobs WHERE owner IS NOT NULL "
        "GROUP BY owner"
    )
    rows += ledger.rows(
        "SELECT claimed_by AS who, min(claimed_at) AS at FROM jobs WHERE claimed_by IS NOT "
        "NULL AND claimed_at IS NOT NULL GROUP BY claimed_by"
    )
    holders, seen = _holders(path) if path else (set(), set())
    found = {_shown_pid(pid): "open" for pid in sorted(holders)}
    here = _this_host()
    for row in sorted(rows, key=lambda row: float(row["at"])):
        owner = str(row["who"])
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if host != here or not (pid.isascii() and pid.isdigit()):
            found.setdefault(shown_owner(owner), "unchecked")
        elif not owner_is_gone(owner) and not _started_after(int(pid), float(row["at"])):
            if int(pid) == os.getpid():  # (a run of this process still open: it writes)
                found[_shown_pid(os.getpid())] = "open"
            else:
                kind = "idle" if int(pid) in seen else "unchecked"
                found.setdefault(_shown_pid(int(pid), alive=kind == "unchecked"), kind)
    return Writers(*([who for who, kind in found.items() if kind == k] for k in Writers._fields))


def shown_owner(owner: str) -> str:
    """A run's owner (``host[/pid-namespace]:pid:random``) as ``pid@host``; a PID
    namespace other than this process's, on this host's name, said (a container)."""
    host, _, rest = owner.partition(":")
    name = host.partition("/")[0]
    shown = f"{rest.partition(':')[0]}@{name}"
    if name == socket.gethostname() and host != _this_host():
        shown += " (in another PID namespace)"
    return shown


def _shown_pid(pid: int, *, alive: bool = False) -> str:
    """A process of this host as ``pid@host (its command's name)``."""
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            name = comm.read().strip()
    except OSError:
        name = ""
    said = ", ".join(filter(None, (name, "alive" if alive else "")))
    return f"{pid}@{socket.gethostname()}" + (f" ({said})" if said else "")


def _holders(path: str) -> tuple[set[int], set[int]]:
    """The processes of this host that hold the file at ``path`` open for writing, and
    those whose open files could be read (this user's; every one for root); none without
    ``/proc``. Only names are compared (``readlink``): a file on a mount that hangs is not
    touched."""
    holders: set[int] = set()
    seen: set[int] = set()
    real = os.path.realpath(path)
    try:
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return holders, seen
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # not ours to read, or ended
            continue
        seen.add(pid)
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == real and _writable(pid, fd):
                    holders.add(pid)
                    break
            except (OSError, ValueError, StopIteration):
                continue
    return holders, seen


def _writable(pid: int, fd: str) -> bool:
    """Whether a process's open file descriptor was opened for writing (its fdinfo)."""
    with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
        flags = next(int(line.split()[1], 8) for line in info if line.startswith("flags:"))
    return flags & 3 != os.O_RDONLY  # (O_ACCMODE)


def _started_after(pid: int, at: float) -> bool:
    """Whether process ``pid`` of this host started after ``at`` (a few seconds' slack: the
    boot time is in whole seconds): then it is not the process that wrote at ``at``, its
    pid reused. False where that cannot be told (no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # (field 22, starttime)
        with open("/proc/stat", encoding="ascii") as system:
            boot = next(float(line.split()[1]) for line in system if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK") > at + 5.0
    except (OSError, ValueError, IndexError, StopIteration):
        return False


def _refuse_writers(ledger: Ledger, writers: Writers, *, writers_stopped: bool) -> None:
    """InvalidArgumentError (nothing copied) for a source a process may still write; a
    UserWarning naming the live processes of this host that wrote it, their runs closed."""
    lost = (
        "a copy made now would miss what they write next (a run moved to the copy would "
        "submit their keys again)"
    )
    if writers.open:
        raise InvalidArgumentError(
            f"The run ledger {ledger.path!r} is open for writing in {_listed(writers.open)} "
            f"on this host; {lost}. Stop them (close the run, or end the process), then copy "
            "it; nothing was copied."
        )
    if writers.unchecked and not writers_stopped:
        raise InvalidArgumentError(
            f"The run ledger {ledger.path!r} was written by {_listed(writers.unchecked)}, "
            "which cannot be checked from here (another host or container; for a PostgreSQL "
            f"ledger, any process); if one still writes it, {lost}. Once every one has "
            "stopped, copy it with writers_stopped=True (runs migrate --writers-stopped); "
            "nothing was copied."
        )
    if writers.idle:
        warnings.warn(
            f"{_listed(writers.idle)}, which wrote {ledger.path!r}, alive on this host "
            "without it open: one that opens its run again writes there, not in the copy "
            "(point it at the copy)",
            UserWarning,
            stacklevel=3,
        )


def _listed(processes: list[str], shown: int = 5) -> str:
    listed = ", ".join(processes[:shown])
    more = f" and {len(processes) - shown} more" if len(processes) > shown else ""
    return f"process{'es' if len(processes) > 1 else ''} {listed}{more}"


def _has_keys(ledger: Ledger) -> bool:
    """A ledger of schema 1 has no fingerprint key (nothing of it was fingerprinted)."""
    return ledger.store.has_table("ledger_keys")


def _refuse_jobs(ledger: Ledger, counted: Sequence[dict[str, Any]]) -> None:
    held = int(counted[0]["n"])
    if held:
        raise InvalidArgumentError(
            f"The run ledger {ledger.path!r} already holds {held} job(s): a ledger is copied "
            "into a new (or empty) one only, nothing was written. Name another file, or "
            "another schema (?schema=NAME)."
        )


def _insert(conn: LedgerConnection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Every row into ``table``, its columns as the source has them (an older source lacks
    some: the target's default, NULL, stands)."""
    if not rows:
        return
    columns = list(rows[0])
    marks = ", ".join("?" * len(columns))
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
        [tuple(row[column] for column in columns) for row in rows],
    )


def _insert_jobs(conn: LedgerConnection, jobs: Sequence[dict[str, Any]]) -> None:
    """Jobs in seq order: first_seq and retry_of name earlier jobs, which are in; retried_by
    names a later one, so it is set once every job is."""
    _insert(conn, "jobs", [{**job, "retried_by": None} for job in jobs])
    retried = [(job["retried_by"], job["seq"]) for job in jobs if job["retried_by"] is not None]
    if retried:
        conn.executemany("UPDATE jobs SET retried_by = ? WHERE seq = ?", retried)


def _replace_key(conn: LedgerConnection, name: str, value: bytes) -> None:
    """The target's key of this name replaced by the source's (added if it has none)."""
    updated = conn.execute("UPDATE ledger_keys SET value = ? WHERE name = ?", (value, name))
    if not updated.rowcount:
        conn.execute("INSERT INTO ledger_keys (name, value) VALUES (?, ?)", (name, value))
