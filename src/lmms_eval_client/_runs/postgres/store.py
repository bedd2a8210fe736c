"""The PostgreSQL ledger store: the run's schema in a database many processes share.

- One connection per ledger object, in autocommit mode; each write is one explicit
  transaction that first takes a transaction-level advisory lock of the run's schema: the
  ledger's writers take turns as SQLite's ``BEGIN IMMEDIATE`` makes them, so every
  read-then-write rule (a claim, a key, a retry) holds across machines. A writer waits for
  the lock up to the busy timeout (``lock_timeout``), then ``LedgerBusyError``.
- A connection found broken is replaced at the next operation: a read, or a transaction
  that had not begun, is tried again once on a new connection; a transaction cut short
  raises ``LedgerConnectionError`` (rolled back by the server).
- The schema is created if missing (in the opening transaction, under the lock: of
  processes opening a new run at once, one creates it) and versioned in ``ledger_meta``.
"""

from __future__ import annotations

import re
import secrets
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql

from ..._exceptions import InvalidArgumentError
from ..errors import (
    CorruptLedgerError,
    ForeignLedgerError,
    LedgerAuthError,
    LedgerError,
    LedgerNotFoundError,
    NewerLedgerError,
)
from ..ledger_schema import SCHEMA_VERSION, damaged
from ..ledger_store import LedgerConnection, LedgerCursor
from .errors import ledger_error, not_permitted, said
from .schema import APPLICATION, FIRST_VERSION, TABLES, schema_statements
from .url import parse_url

_LOCK_CLASS = 0x4C4D4552  # "LMER", as the SQLite ledger's application_id
Connection = psycopg.Connection[tuple[Any, ...]]


@lru_cache(maxsize=512)
def _dialect(statement: str) -> str:
    """The ledger's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return statement.replace("%", "%%").replace("?", "%s")


class _Translating:
    """A connection in a transaction, taking the ledger's SQL as written."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def execute(self, statement: str, parameters: Any = (), /) -> LedgerCursor:
        return self._conn.execute(_dialect(statement), tuple(parameters))

    def executemany(self, statement: str, seq_of_parameters: Iterable[Any], /) -> object:
        cursor = self._conn.cursor()
        cursor.executemany(_dialect(statement), list(seq_of_parameters))
        return cursor


# The schema's tables as the catalog holds them: information_schema lists only those the
# user has a right on, so a ledger the user may not read looked like no ledger at all.
_TABLES = (
    "SELECT c.relname AS table_name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p')"
)
_SCHEMA_EXISTS = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
_USABLE = "SELECT has_schema_privilege(oid, 'USAGE') FROM pg_namespace WHERE nspname = %s"
# libpq's (and psycopg's) words for a URL option refused before connecting: 'invalid
# sslmode value: "bogus"', 'invalid URI query parameter: "x"', "bad value for connect_timeout"
# (the adversarial try of PostgreSQL ledgers: a port out of range, an unknown service, a
# password's bad %-escape or spaces were told as a server that cannot be reached)
_OPTION_REFUSED = re.compile(
    r"\binvalid (?:[\w ]+ value|URI query parameter|connection option|port number"
    r"|percent-encoded token)|\bbad value for \w+|\bdefinition of service \S+ not found"
    r"|\bunexpected spaces found|\bforbidden value %00"
)
# A session idle inside a transaction this long is ended by the server: its locks go with it.
# The ledger's own transactions last milliseconds; a frozen process (SIGSTOP, a paused VM, a
# partitioned machine) held the run's write lock, every other writer refused, for hours.
_IDLE_IN_TRANSACTION_MS = 60_000
_IDLE_SETTING = "SELECT setting FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'"


class PostgresStore:
    """A run's ledger in a PostgreSQL schema (created if missing). Thread-safe."""

    def __init__(self, url: str, *, busy_timeout: float, read_only: bool) -> None:
        self._url = parse_url(url)
        self.where = self._url.shown
        self.read_only = read_only
        # PostgreSQL's lock_timeout is an int4 of milliseconds (0 would mean no limit).
        self._busy_ms = min(max(1, int(busy_timeout * 1000)), 2**31 - 1)
        self._lock = threading.RLock()
        self._conn: Connection | None = None
        self._closed = False
        # An advisory lock per run: per database, so a schema's name is enough.
        self._lock_key = zlib.crc32(self._url.schema.encode()) - 2**31
        try:
            if read_only:
                self._check_existing()
            else:
                self._prepare()
            self._key = self._read_key()
        except BaseException:
            self.close()
            raise

    # -- connection ----------------------------------------------------------------------

    def _connection(self, doing: str) -> Connection:
        """The open connection, or a new one (the old one closed or broken)."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if self._closed:
            raise LedgerError(
                f"The run ledger {self.where!r} was closed (while {doing}): open it again.",
                path=self.where,
            )
        self._drop()
        try:
            conn = psycopg.connect(self._url.conninfo, autocommit=True)
        except psycopg.Error as exc:
            if _OPTION_REFUSED.search(str(exc)):  # libpq's check, before it connects
                raise InvalidArgumentError(
                    f"The run ledger URL {self.where!r} has an option libpq refuses: "
                    f"{self._said(exc)}"
                ) from None
            raise self._error(exc, doing) from None
        try:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._url.schema)))
            conn.execute(f"SET lock_timeout = {self._busy_ms}")
            idle = conn.execute(_IDLE_SETTING).fetchone()  # (an administrator's shorter one stays)
            if idle is None or not 0 < int(idle[0]) <= _IDLE_IN_TRANSACTION_MS:
                conn.execute(f"SET idle_in_transaction_session_timeout = {_IDLE_IN_TRANSACTION_MS}")
            if self.read_only:
                conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            conn.close()
            raise self._error(exc, doing) from None
        self._conn = conn
        return conn

    def _begin(self, doing: str) -> Connection:
        """BEGIN and the run's lock, on a new connection once if the old one was broken."""
        for attempt in (1, 2):
            conn = self._connection(doing)
            try:
                # Read committed whatever the role's default: each statement sees what the
                # writer before it committed (a snapshot older than the lock fails to write).
                conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, self._lock_key))
                return conn
            except psycopg.OperationalError as exc:
                with suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                if attempt == 2 or not conn.broken:
                    raise self._error(exc, doing) from None
                self._drop()
            except psycopg.Error as exc:
                with suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                raise self._error(exc, doing) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()

    def _drop(self) -> None:
        """Close the connection (a broken one is replaced at the next use)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(psycopg.Error):
                    conn.close()

    # -- opening -------------------------------------------------------------------------

    def _version(self, conn: Connection) -> int:
        """The schema's ledger version (0: missing or empty); Foreign/Newer/Corrupt
        when it cannot be read as a ledger."""
        usable = conn.execute(_USABLE, (self._url.schema,)).fetchone()
        if usable is not None and not usable[0]:  # (else search_path skips it, unsaid)
            denied = f"permission denied for schema {self._url.schema}"
            raise self._not_permitted("opening it", denied)
        tables = {str(row[0]) for row in conn.execute(_TABLES, (self._url.schema,)).fetchall()}
        if not tables:
            return 0
        if "ledger_meta" not in tables:
            raise ForeignLedgerError(
                f"The schema {self._url.schema!r} of {self.where!r} holds tables of another "
                "program, not a run ledger of lmms-eval-client: name another schema "
                "(?schema=NAME).",
                path=self.where,
            )
        meta: dict[str, str] = dict(conn.execute("SELECT name, value FROM ledger_meta").fetchall())
        if meta.get("application") != APPLICATION:
            raise ForeignLedgerError(
                f"The schema {self._url.schema!r} of {self.where!r} is not a run ledger of "
                "lmms-eval-client: name another schema (?schema=NAME).",
                path=self.where,
            )
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise damaged(self.where, f"schema version {meta.get('schema_version')!r}") from None
        if version > SCHEMA_VERSION:
            raise NewerLedgerError(
                f"The run ledger {self.where!r} has schema version {version}, written by a "
                f"newer lmms-eval-client (this one reads up to {SCHEMA_VERSION}): upgrade "
                "lmms-eval-client to use it.",
                path=self.where,
                found=version,
                supported=SCHEMA_VERSION,
            )
        if version < FIRST_VERSION:
            raise damaged(self.where, f"schema version {version}")
        missing = sorted(TABLES - tables) if version == SCHEMA_VERSION else []
        if missing:
            raise damaged(self.where, f"its schema lacks the tables {', '.join(missing)}")
        return version

    @contextmanager
    def _locked(self, doing: str) -> Iterator[Connection]:
        """BEGIN and the run's lock ... COMMIT; rolled back on any failure (a psycopg
        failure raised as its typed LedgerError)."""
        with self._lock:
            conn = self._begin(doing)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                with suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, psycopg.Error):
                    raise self._error(exc, doing) from None
                raise

    def _prepare(self) -> None:
        """Create the schema and its tables, or check (and migrate) them: one transaction."""
        with self._locked("opening it") as conn:
            exists = conn.execute(_SCHEMA_EXISTS, (self._url.schema,)).fetchone()
            if exists is None:
                self._not_folded(conn)
                name = sql.Identifier(self._url.schema)
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
            version = self._version(conn)
            for statement in schema_statements(version):
                conn.execute(statement)
            if version == 0:
                conn.execute(
                    "INSERT INTO ledger_keys (name, value) VALUES ('fingerprint', %s)",
                    (secrets.token_bytes(32),),
                )
                conn.execute(
                    "INSERT INTO ledger_meta (name, value) VALUES ('application', %s)",
                    (APPLICATION,),
                )
            if version < SCHEMA_VERSION:
                conn.execute(
                    "INSERT INTO ledger_meta (name, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )

    def _not_folded(self, conn: Connection) -> None:
        """InvalidArgumentError when the schema named is missing and its lower-case twin
        exists: ``CREATE SCHEMA Sweep_A`` (unquoted, as an administrator types it) made
        ``sweep_a``, and a second run (or a refusal to create it) would follow."""
        folded = self._folded(conn)
        if folded:
            raise InvalidArgumentError(f"The run ledger {self.where!r} names {folded}")

    def _folded(self, conn: Connection) -> str:
        """The schema named is missing and its lower-case twin is there: which, and the
        name to give (else ""); the open's and the read-only open's one wording."""
        schema = self._url.schema
        if schema == schema.lower() or conn.execute(_SCHEMA_EXISTS, (schema,)).fetchone():
            return ""
        if not conn.execute(_SCHEMA_EXISTS, (schema.lower(),)).fetchone():
            return ""
        return (
            f"schema {schema!r}, which does not exist; {schema.lower()!r} does (names are "
            "case-sensitive, and CREATE SCHEMA without quotes makes them lower case): give "
            f"schema={schema.lower()}"
        )

    def _check_existing(self) -> None:
        """Read-only: the ledger must exist, at this version's schema (LedgerNotFoundError,
        naming the lower-case twin of a schema named that is not there)."""
        with self._lock:
            conn = self._connection("opening it")
            try:
                version = self._version(conn)
                folded = self._folded(conn) if version == 0 else ""
            except psycopg.Error as exc:
                raise self._error(exc, "opening it") from None
        if version == 0:
            said = f": it names {folded}" if folded else ""
            raise LedgerNotFoundError(
                f"There is no run ledger at {self.where!r}{said}", path=self.where
            )

    def _read_key(self) -> bytes:
        rows = self.rows("SELECT value FROM ledger_keys WHERE name = 'fingerprint'")
        value = rows[0]["value"] if rows else None
        if not isinstance(value, bytes) or len(value) < 16:
            raise CorruptLedgerError(
                f"The run ledger {self.where!r} has lost its fingerprint key", path=self.where
            )
        return value

    # -- the store's interface ------------------------------------------------------------

    @contextmanager
    def transaction(self, doing: str) -> Iterator[LedgerConnection]:
        """BEGIN, the run's lock, the change counter moved ... COMMIT; rolled back on any
        failure."""
        with self._locked(doing) as conn:
            conn.execute("UPDATE ledger_changes SET n = n + 1")
            yield _Translating(conn)

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection("reading it")
                try:
                    cursor = conn.execute(_dialect(statement), tuple(params))
                    names = [column.name for column in cursor.description or ()]
                    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
                except psycopg.OperationalError as exc:
                    if attempt == 2 or not conn.broken:
                        raise self._error(exc, "reading it") from None
                    self._drop()  # a read is safe to try again on a new connection
                except psycopg.Error as exc:
                    raise self._error(exc, "reading it") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def changes(self) -> object:
        return self.rows("SELECT n FROM ledger_changes")[0]["n"]

    def has_table(self, name: str) -> bool:
        query = _TABLES.replace("%s", "?") + " AND c.relname = ?"
        return bool(self.rows(query, (self._url.schema, name)))

    def fingerprint_key(self) -> bytes:
        return self._key

    def ends_with_token(self, column: str, field: str) -> str:
        return f"right(rtrim(({column})::json ->> '{field}', '/'), length(token)) = token"

    # -- errors --------------------------------------------------------------------------

    def _not_permitted(self, doing: str, text: str) -> LedgerAuthError:
        return not_permitted(self.where, doing, text)

    def _said(self, exc: psycopg.Error) -> str:
        return said(exc, self._url.secrets)

    def _error(self, exc: psycopg.Error, doing: str) -> LedgerError:
        return ledger_error(exc, self.where, doing, self._url.secrets)
