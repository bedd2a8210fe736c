"""The ledger file's format: its schema, versions and migrations, and what SQLite's
failures mean (each becomes a :class:`LedgerError` subclass).

A ledger is marked by ``PRAGMA application_id`` and versioned by ``PRAGMA user_version``.
A new file gets ``NEW_LEDGER``, the current schema; ``MIGRATIONS[v]`` brings an older file
from schema ``v - 1`` to ``v``. They run in the transaction that opens the ledger, so a
failed migration leaves the file as it was (foreign keys are off in it, so that a table can
be rebuilt; the ledger checks them before it commits). To change the schema: add
``MIGRATIONS[SCHEMA_VERSION + 1]``, bump ``SCHEMA_VERSION``, and see that ``_schema``
makes what the migrations make (tests/runs/test_ledger_migration.py compares them).

Versions: 1, the first; 2, the fingerprint key (``ledger_keys``); 3, a job is (server,
job_id): ``job_id`` is unique per server; 4, a submission's key (``submission_key``,
unique: submitting under a key twice returns the first job), delivery claims
(``claimed_by``, ``claimed_at``: an outcome handed out and not yet acknowledged),
``recovered_at`` (a lost job completed from its output folder) and ``metrics`` (the
completed job's metric rows, JSON); 5, ``sink_writes``: which completed jobs each of the
run's sinks (MLflow, TensorBoard, W&B...) has written, so a resumed run or a second export
writes none twice.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._client.reconcile import QueueSnapshot
from .._lazy import LazyModule
from .errors import (
    CorruptLedgerError,
    LedgerBusyError,
    LedgerError,
    LedgerFullError,
    LedgerReadOnlyError,
)
from .ledger_tables import (
    HISTORY_INDEX,
    KEY_INDEX,
    SQLITE,
    STATE_INDEX,
    create_table,
    job_columns,
    key_columns,
    observation_columns,
    sink_write_columns,
    v4_job_columns,
)

if TYPE_CHECKING:
    from lmms_eval_api import models as _models

    from . import outcomes as _outcomes
    from .outcomes import Observation, TrackedJob
else:  # the models load with the first job read (an evaluation run's import: not)
    _models = LazyModule("lmms_eval_api.models")
    _outcomes = LazyModule("lmms_eval_client._runs.outcomes")

APPLICATION_ID = 0x4C4D4552  # "LMER": lmms-eval-client run ledger
SCHEMA_VERSION = 5
SQLITE_HEADER = b"SQLite format 3\x00"

_APPEND_ONLY = "SELECT RAISE(ABORT, 'the ledger never deletes or rewrites history')"


def _jobs_table(name: str, version: int) -> str:
    """The ``jobs`` table of a schema version (``ledger_tables.job_columns``)."""
    return create_table(name, job_columns(version, SQLITE))


_V4_ADDED = tuple(
    f"ALTER TABLE jobs ADD COLUMN {name} {kind}" for name, kind in v4_job_columns(SQLITE)
)

# The columns of schema 3's jobs table (what its rebuild copies).
_JOBS_COLUMNS = ", ".join(
    column.split()[0] for column in job_columns(2, SQLITE) if not column.startswith("UNIQUE")
)
# How the ledger reads jobs: each with its chain's key (TrackedJob.key), which only the first
# attempt holds in its column.
JOBS = (
    "SELECT *, COALESCE(submission_key, (SELECT k.submission_key FROM jobs AS k "
    "WHERE k.seq = jobs.first_seq)) AS chain_key FROM jobs"
)
_JOBS_KEPT = f"CREATE TRIGGER jobs_kept BEFORE DELETE ON jobs BEGIN {_APPEND_ONLY}; END"


# The key of the fingerprints of secret model_args (the opening transaction adds it).
_KEYS_TABLE = (create_table("ledger_keys", key_columns(SQLITE)),)

# Schema 5: which completed jobs each of the run's sinks has written.
SINK_WRITES_DDL = create_table("sink_writes", sink_write_columns(SQLITE))


def _schema(version: int) -> tuple[str, ...]:
    """Every table, index and trigger of a ledger of this schema version, made at once."""
    return (
        _jobs_table("jobs", version),
        STATE_INDEX,
        create_table("observations", observation_columns(SQLITE)),
        HISTORY_INDEX,
        f"CREATE TRIGGER observations_append_only BEFORE UPDATE ON observations "
        f"BEGIN {_APPEND_ONLY}; END",
        f"CREATE TRIGGER observations_kept BEFORE DELETE ON observations BEGIN {_APPEND_ONLY}; END",
        _JOBS_KEPT,
        *(_KEYS_TABLE if version >= 2 else ()),
        *((KEY_INDEX,) if version >= 4 else ()),
        *((SINK_WRITES_DDL,) if version >= 5 else ()),
    )


# A new ledger is made at SCHEMA_VERSION at once: replaying the migrations would leave the
# pages of every rebuilt table free in each new file.
NEW_LEDGER = _schema(SCHEMA_VERSION)

# MIGRATIONS[v]: the statements that bring a ledger of schema v - 1 to v (1: the first).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: _schema(1),
    2: _KEYS_TABLE,
    # SQLite cannot drop the UNIQUE (job_id) of schemas 1 and 2: the table is rebuilt, its
    # rows, seqs and AUTOINCREMENT counter kept; the history's references to it still hold.
    3: (
        _jobs_table("jobs_v3", 3),
        f"INSERT INTO jobs_v3 ({_JOBS_COLUMNS}) SELECT {_JOBS_COLUMNS} FROM jobs",
        "DROP TABLE jobs",  # its index and trigger with it (no trigger fires)
        "ALTER TABLE jobs_v3 RENAME TO jobs",
        STATE_INDEX,
        _JOBS_KEPT,
    ),
    4: (*_V4_ADDED, KEY_INDEX),
    5: (SINK_WRITES_DDL,),
}


def schema_statements(version: int) -> list[str]:
    """What brings a file of schema ``version`` (0: a new file) to ``SCHEMA_VERSION``."""
    if version == 0:
        return list(NEW_LEDGER)
    steps = range(version + 1, SCHEMA_VERSION + 1)
    return [statement for step in steps for statement in MIGRATIONS[step]]


def check_references(conn: sqlite3.Connection, path: str) -> None:
    """After a migration (run with foreign keys off): every reference still finds its job."""
    if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
        raise CorruptLedgerError(
            f"The run ledger {path!r} has jobs or observations that refer to no job, so it "
            "was not migrated to this version's schema. Keep it for inspection and start a "
            "new ledger at another path.",
            path=path,
        )


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether another connection holds the lock SQLite needed (LedgerBusyError)."""
    return error_code(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


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


# What reading a stored value can raise when the bytes were damaged: JSON that does not parse
# or nests without end, a model that does not validate (pydantic's errors are ValueErrors), a
# value of another type, a timestamp out of range.
UNREADABLE = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    OverflowError,
    OSError,
    RecursionError,
)
# Python's sqlite3 raises UnicodeDecodeError for a name or an error message that is not
# UTF-8 (a damaged schema): a failure of SQLite like the others.
SQLITE_FAILURES = (sqlite3.Error, UnicodeDecodeError)
# Python's sqlite3 (not SQLite) raises it for TEXT that is not UTF-8: bit rot in a value.
_NOT_UTF8 = re.compile(r"Could not decode to UTF-8 column '([^']*)'")


def damaged(path: str, what: str) -> CorruptLedgerError:
    """The error for a ledger found damaged; ``what`` says what was found."""
    return CorruptLedgerError(
        f"The run ledger {path!r} is damaged: {what}. Keep a copy for inspection and start a "
        "new ledger at another path.",
        path=path,
    )


def ledger_error(exc: sqlite3.Error | UnicodeDecodeError, path: str, doing: str) -> LedgerError:
    """The typed error for an SQLite failure on the ledger at ``path``."""
    if isinstance(exc, UnicodeDecodeError):
        return damaged(path, "a name or message SQLite read from it is not UTF-8")
    not_utf8 = _NOT_UTF8.match(str(exc))
    if not_utf8:  # the message goes on with the whole damaged value: not repeated
        return damaged(path, f"a text of column {not_utf8[1]!r} is not UTF-8")
    if str(exc) == "unsupported file format":  # SQLITE_ERROR for a damaged header field
        return damaged(path, "SQLite reads its header as an unsupported file format")
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
    if is_busy(exc):
        return LedgerBusyError(
            f"{where} stayed locked by another process while {doing} ({exc}); try again.",
            path=path,
        )
    return LedgerError(f"{where} failed while {doing}: {exc}", path=path)


def create_private(path: str) -> None:
    """Create a missing ledger file readable by its owner only (it holds what was submitted;
    SQLite creates -wal and -shm with the mode of the database file)."""
    # It exists, or cannot be made: SQLite's own open then says which, with a typed error.
    # A link to a file not there yet: its target (O_EXCL refuses a link; SQLite follows it).
    with suppress(OSError):
        target = os.path.realpath(path)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


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


def job_from_row(row: Mapping[str, Any], path: str) -> TrackedJob:
    """A row of ``jobs`` as a TrackedJob (CorruptLedgerError if it cannot be read)."""
    try:
        return _outcomes.TrackedJob(
            seq=row["seq"],
            job_id=row["job_id"],
            state=row["state"],
            labels=json.loads(row["labels"]),
            request=_models.EvaluateRequest.from_dict(json.loads(row["request"])),
            server=row["server"],
            token=row["token"],
            attempt=row["attempt"],
            first_seq=row["first_seq"] or row["seq"],
            retry_of=row["retry_of"],
            retried_by=row["retried_by"],
            info=None if row["info"] is None else _models.JobInfo.model_validate_json(row["info"]),
            note=row["note"],
            last_known_state=row["last_known_state"],
            summary=None if row["summary"] is None else json.loads(row["summary"]),
            harvested=row["harvested_at"] is not None,
            key=row.get("chain_key", row["submission_key"]),
            recovered=row["recovered_at"] is not None,
            created_at=utc(row["created_at"]),
            updated_at=utc(row["updated_at"]),
        )
    except UNREADABLE as exc:
        raise damaged(
            path, f"unreadable job row (seq {row.get('seq')}): {_first_line(exc)}"
        ) from exc


def observation_from_row(row: Mapping[str, Any], path: str) -> Observation:
    """A row of ``observations`` as an Observation (CorruptLedgerError if it cannot be read)."""
    try:
        seq, event, state = row["seq"], row["event"], row["state"]
        if not (isinstance(seq, int) and isinstance(event, str) and isinstance(state, str)):
            raise TypeError(f"seq {seq!r}, event {event!r}, state {state!r}")
        data = None if row["data"] is None else json.loads(row["data"])
        return _outcomes.Observation(
            seq=seq, at=utc(row["at"]), event=event, state=state, data=data
        )
    except UNREADABLE as exc:
        raise damaged(
            path, f"unreadable history of job {row.get('seq')}: {_first_line(exc)}"
        ) from exc


def snapshot_from_text(text: Any, path: str, seq: int) -> QueueSnapshot:
    """The queue snapshot recorded with a submission's intent (CorruptLedgerError if it
    cannot be read: every intent records one)."""
    try:
        data = json.loads(text)
        snapshot = QueueSnapshot.from_json(data)
        if not all(isinstance(job_id, str) for job_id in snapshot.ids):
            raise TypeError(f"ids {data['ids']!r}")
        return snapshot
    except UNREADABLE as exc:
        raise damaged(path, f"unreadable queue snapshot (seq {seq}): {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__
