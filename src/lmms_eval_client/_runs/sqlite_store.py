"""The embedded ledger store: one SQLite file (see ``ledger.py`` for what it holds).

- WAL journal, ``synchronous=FULL`` (a committed write survives a power cut), a busy
  timeout and ``BEGIN IMMEDIATE`` for every write: two processes on one file (a trainer and
  a notebook) take turns instead of failing. SQLite's WAL needs memory shared by one host:
  a file on a network filesystem is refused (``filesystems``; use the PostgreSQL store).
- ``PRAGMA application_id`` marks the file as a ledger, ``PRAGMA user_version`` is its
  schema version; an older schema is migrated in one transaction, a newer one is refused.
  Every SQLite failure becomes a :class:`LedgerError` subclass.
- A new ledger file is created 0600 (its -wal and -shm take its mode).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from .ledger_open import check_integrity, check_place, check_schema, connect, open_read_only
from .ledger_schema import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    SQLITE_FAILURES,
    add_fingerprint_key,
    check_references,
    create_private,
    fingerprint_key,
    is_busy,
    ledger_error,
    schema_statements,
)
from .ledger_store import LedgerConnection


class SqliteStore:
    """An open ledger file (created if missing). Thread-safe; one connection."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float,
        read_only: bool,
        allow_network_filesystem: bool = False,
    ) -> None:
        self.where = path
        self.read_only = read_only
        self._lock = threading.RLock()
        check_place(path, read_only=read_only, allow_network_filesystem=allow_network_filesystem)
        if not read_only:
            create_private(path)  # before SQLite creates it (and -wal, -shm like it)
        self._conn = connect(path, busy_timeout, read_only=read_only)
        try:
            if read_only:
                self._conn = open_read_only(self._conn, path, SCHEMA_VERSION, MIGRATIONS)
            else:
                # foreign keys off until then: a migration may rebuild a table
                self._prepare(busy_timeout)
                self._conn.execute("PRAGMA foreign_keys = ON")
            self._key = fingerprint_key(self._conn, path)
        except BaseException:
            self._conn.close()
            raise

    def _prepare(self, busy_timeout: float) -> None:
        """Check the file is a ledger of a schema this version reads; create or migrate it."""
        try:
            self._use_wal(busy_timeout)
            check_integrity(self._conn, self.where)
        except SQLITE_FAILURES as exc:
            raise ledger_error(exc, self.where, "opening it") from exc
        with self.transaction("opening it") as conn:  # BEGIN IMMEDIATE: also proves it is writable
            assert isinstance(conn, sqlite3.Connection)
            version = check_schema(conn, self.where, SCHEMA_VERSION, MIGRATIONS)
            for statement in schema_statements(version):
                conn.execute(statement)
            add_fingerprint_key(conn, version)
            if version < SCHEMA_VERSION:
                check_references(conn, self.where)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _use_wal(self, busy_timeout: float) -> None:
        """Switch the file to WAL (a no-op once it is). On a new file that another connection
        is writing (processes opening one new ledger together), SQLite answers the switch
        with SQLITE_BUSY at once, without its busy handler: wait here instead, as long."""
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def transaction(self, doing: str) -> Iterator[LedgerConnection]:
        """BEGIN IMMEDIATE ... COMMIT; rolled back on any failure."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except SQLITE_FAILURES as exc:
                raise ledger_error(exc, self.where, doing) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    # (SQLite may have rolled back already, e.g. after SQLITE_FULL)
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, SQLITE_FAILURES):
                    raise ledger_error(exc, self.where, doing) from exc
                raise

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cursor = self._conn.execute(sql, params)
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except SQLITE_FAILURES as exc:
                raise ledger_error(exc, self.where, "reading it") from exc

    def changes(self) -> object:
        # This connection's writes (total_changes, which a rolled-back write also moves: a
        # read too many, never one too few) and others' commits (data_version).
        (row,) = self.rows(
            "SELECT total_changes() AS mine, data_version AS others FROM pragma_data_version"
        )
        return (row["mine"], row["others"])

    def has_table(self, name: str) -> bool:
        found = self.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return bool(found)

    def fingerprint_key(self) -> bytes:
        return self._key

    def ends_with_token(self, column: str, field: str) -> str:
        return f"substr(rtrim(json_extract({column}, '$.{field}'), '/'), -length(token)) = token"

    def close(self) -> None:
        with self._lock:
            self._conn.close()
