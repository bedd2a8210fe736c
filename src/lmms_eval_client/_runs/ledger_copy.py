"""A run's ledger copied into another store (``runs migrate``): typically a SQLite file
into a PostgreSQL schema, so that many machines can share the run; any direction works.

The copy is row for row: every job keeps its seq (keys, retries and ``runs show N`` still
name the same jobs), every observation its id, every sink write its row, and the target
takes the source's fingerprint key, so the fingerprints of secret model_args the copied
requests hold still match what a resumed run computes. It is one transaction of the
target: a failure copies no row (a target the copy created stays, an empty ledger). The
source is only read; a run still writing it while it is copied is not copied consistently
(stop the run first).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import closing
from typing import Any

from .._exceptions import InvalidArgumentError
from .ledger import Ledger
from .ledger_store import LedgerConnection
from .sqlite_store import SqliteStore

# PostgreSQL's identity columns do not follow explicit values (SQLite's AUTOINCREMENT
# does): moved past the copied ids, or the next submission would collide with a copied seq.
_PG_SEQUENCES = (
    "SELECT setval(pg_get_serial_sequence('jobs', 'seq'), max(seq)) FROM jobs",
    "SELECT setval(pg_get_serial_sequence('observations', 'id'), max(id)) FROM observations",
)


def copy_ledger(source: str | os.PathLike[str], target: str) -> int:
    """Copy the ledger at ``source`` into ``target`` (each a SQLite file or a PostgreSQL URL
    ``postgresql://user@host/db?schema=RUN``); the number of jobs copied.

    The source is opened read-only; the target is created if missing, and must hold no job
    (InvalidArgumentError otherwise, and nothing is written). A resumed ``EvalRun`` on the
    target sees the same jobs, history and table, and submits after the copied seqs.

    Raises InvalidArgumentError (a target that holds jobs), and the LedgerError family for a
    ledger that cannot be opened, read or written.

    Example::

        copy_ledger("evals.sqlite", "postgresql://evals@db.internal/evals?schema=sweep")
    """
    with closing(Ledger(source, read_only=True)) as read:
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
