"""The ledger file's format: its schema, versions and migrations, and what SQLite's
failures mean (each becomes a :class:`LedgerError` subclass).

A ledger is marked by ``PRAGMA application_id`` and versioned by ``PRAGMA user_version``.
``MIGRATIONS[v]`` brings schema ``v - 1`` to ``v`` (``0``: a new file); they run in the
transaction that opens the ledger, so a failed migration leaves the file as it was. To
change the schema: add ``MIGRATIONS[SCHEMA_VERSION + 1]`` and bump ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lmms_eval_api.models import EvaluateRequest, JobInfo

from .errors import (
    CorruptLedgerError,
    LedgerBusyError,
    LedgerError,
    LedgerFullError,
    LedgerReadOnlyError,
)
from .outcomes import Observation, TrackedJob

APPLICATION_ID = 0x4C4D4552  # "LMER": lmms-eval-client run ledger
SCHEMA_VERSION = 2
SQLITE_HEADER = b"SQLite format 3\x00"

_APPEND_ONLY = "SELECT RAISE(ABORT, 'the ledger never deletes or rewrites history')"
# MIGRATIONS[v]: the statements that bring a ledger of schema v - 1 to v (0: a new file).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE jobs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            token TEXT NOT NULL UNIQUE,
            job_id TEXT UNIQUE,
            state TEXT NOT NULL,
            labels TEXT NOT NULL,
            request TEXT NOT NULL,
            server TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            first_seq INTEGER REFERENCES jobs(seq),
            retry_of INTEGER REFERENCES jobs(seq),
            retried_by INTEGER REFERENCES jobs(seq),
            owner TEXT,
            snapshot TEXT,
            info TEXT,
            note TEXT,
            last_known_state TEXT,
            summary TEXT,
            harvested_at REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX jobs_by_state ON jobs(state)",
        """CREATE TABLE observations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            seq INTEGER NOT NULL REFERENCES jobs(seq),
            at REAL NOT NULL,
            event TEXT NOT NULL,
            state TEXT NOT NULL,
            data TEXT
        )""",
        "CREATE INDEX observations_by_seq ON observations(seq)",
        f"CREATE TRIGGER observations_append_only BEFORE UPDATE ON observations "
        f"BEGIN {_APPEND_ONLY}; END",
        f"CREATE TRIGGER observations_kept BEFORE DELETE ON observations BEGIN {_APPEND_ONLY}; END",
        f"CREATE TRIGGER jobs_kept BEFORE DELETE ON jobs BEGIN {_APPEND_ONLY}; END",
    ),
    # The key of the fingerprints of secret model_args (the opening transaction adds it).
    2: ("CREATE TABLE ledger_keys (name TEXT PRIMARY KEY, value BLOB NOT NULL)",),
}


def error_code(exc: sqlite3.Error) -> str:
    """SQLite's error name (``sqlite_errorname`` needs Python 3.11; else from the message)."""
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str):
        return name
    text = str(exc).lower()
    for fragment, code in (
        ("disk is full", "SQLITE_FULL"),
        ("readonly", "SQLITE_READONLY"),
        ("not a database", "SQLITE_NOTADB"),
        ("malformed", "SQLITE_CORRUPT"),
        ("locked", "SQLITE_BUSY"),
        ("unable to open", "SQLITE_CANTOPEN"),
    ):
        if fragment in text:
            return code
    return "SQLITE_ERROR"


def ledger_error(exc: sqlite3.Error, path: str, doing: str) -> LedgerError:
    """The typed error for an SQLite failure on the ledger at ``path``."""
    code = error_code(exc)
    where = f"The run ledger {path!r}"
    if code == "SQLITE_FULL":
        return LedgerFullError(
            f"{where} could not be written while {doing}: the disk is full. Nothing of it was "
            "recorded; free some space and try again.",
            path=path,
        )
    if code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return LedgerReadOnlyError(
            f"{where} cannot be written ({exc}) while {doing}: the file, its folder or its file "
            "system is read-only, or permissions forbid it (SQLite also creates "
            f"{Path(path).name}-wal and -shm beside it). Use a writable path.",
            path=path,
        )
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return CorruptLedgerError(
            f"{where} is damaged or not a SQLite database ({exc}). Keep a copy for inspection "
            "and start a new ledger at another path.",
            path=path,
        )
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return LedgerBusyError(
            f"{where} stayed locked by another process while {doing} ({exc}); try again.",
            path=path,
        )
    return LedgerError(f"{where} failed while {doing}: {exc}", path=path)


def create_private(path: str) -> None:
    """Create a missing ledger file readable by its owner only (it holds what was submitted;
    SQLite creates -wal and -shm with the mode of the database file)."""
    # It exists, or cannot be made: SQLite's own open then says which, with a typed error.
    with suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def add_fingerprint_key(conn: sqlite3.Connection, version: int) -> None:
    """In the opening transaction of a ledger older than schema 2: its fingerprint key."""
    if version < 2:
        conn.execute(
            "INSERT INTO ledger_keys (name, value) VALUES ('fingerprint', ?)",
            (secrets.token_bytes(32),),
        )


def fingerprint_key(conn: sqlite3.Connection, path: str) -> bytes:
    """The key of the ledger's fingerprints of secret model_args."""
    try:
        row = conn.execute("SELECT value FROM ledger_keys WHERE name = 'fingerprint'").fetchone()
    except sqlite3.Error as exc:
        raise ledger_error(exc, path, "reading it") from exc
    if row is None or not isinstance(row[0], bytes) or len(row[0]) < 16:
        raise CorruptLedgerError(f"The run ledger {path!r} has lost its fingerprint key", path=path)
    return row[0]


def utc(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, timezone.utc)


def observation_from_row(row: Mapping[str, Any]) -> Observation:
    """A row of ``observations`` as an Observation."""
    return Observation(
        seq=row["seq"],
        at=utc(row["at"]),
        event=row["event"],
        state=row["state"],
        data=None if row["data"] is None else json.loads(row["data"]),
    )


def job_from_row(row: Mapping[str, Any], path: str) -> TrackedJob:
    """A row of ``jobs`` as a TrackedJob (CorruptLedgerError if it cannot be read)."""
    try:
        return TrackedJob(
            seq=row["seq"],
            job_id=row["job_id"],
            state=row["state"],
            labels=json.loads(row["labels"]),
            request=EvaluateRequest.from_dict(json.loads(row["request"])),
            server=row["server"],
            token=row["token"],
            attempt=row["attempt"],
            first_seq=row["first_seq"] or row["seq"],
            retry_of=row["retry_of"],
            retried_by=row["retried_by"],
            info=None if row["info"] is None else JobInfo.model_validate_json(row["info"]),
            note=row["note"],
            last_known_state=row["last_known_state"],
            summary=None if row["summary"] is None else json.loads(row["summary"]),
            harvested=row["harvested_at"] is not None,
            created_at=utc(row["created_at"]),
            updated_at=utc(row["updated_at"]),
        )
    except (ValueError, TypeError, KeyError) as exc:  # pydantic's errors are ValueErrors
        raise CorruptLedgerError(
            f"The run ledger {path!r} has an unreadable job row (seq {row.get('seq')}): "
            f"{str(exc).splitlines()[0]}",
            path=path,
        ) from exc
