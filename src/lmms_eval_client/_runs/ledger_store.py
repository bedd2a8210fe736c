"""Where a ledger's rows live: a SQLite file (``sqlite_store``) or a PostgreSQL schema
(``postgres``). ``Ledger`` writes its rules once over this interface; a store only opens,
checks and migrates its schema, runs transactions, reads rows, and says what its
failures mean (a ``LedgerError`` subclass).

The SQL the ledger's modules write is the common part of both dialects: ``?``
placeholders (the PostgreSQL store rewrites them), ``NOTNULL``, ``RETURNING``,
``ON CONFLICT DO NOTHING``. What differs is a method here (``changes``, ``has_table``,
``ends_with_token``).

Every write transaction of one ledger excludes every other (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: a transaction-level advisory lock of the ledger's schema), so a rule that reads
then writes (a claim, a key, a retry) holds across processes and machines alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class LedgerCursor(Protocol):
    """What a statement returns (sqlite3's and psycopg's cursors both are)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class LedgerConnection(Protocol):
    """The connection of a write transaction (``Ledger.transaction``)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> LedgerCursor: ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> object: ...


class LedgerStore(Protocol):
    """A ledger's storage, opened (its schema checked, created or migrated)."""

    where: str
    """The file, or the database URL without its password: what messages name."""
    read_only: bool

    def transaction(self, doing: str) -> AbstractContextManager[LedgerConnection]:
        """One write transaction that excludes the ledger's other writers; rolled back on
        any failure (a typed LedgerError for the store's own)."""
        ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A query's rows as dicts (outside any write transaction)."""
        ...

    def changes(self) -> object:
        """A value that differs after any committed write, by any process."""
        ...

    def has_table(self, name: str) -> bool:
        """Whether the ledger has this table (an older schema opened read-only may not)."""
        ...

    def fingerprint_key(self) -> bytes:
        """The key of the ledger's fingerprints of secret model_args."""
        ...

    def ends_with_token(self, column: str, field: str) -> str:
        """SQL: the JSON ``column``'s string ``field``, its trailing slashes dropped, ends
        with the row's ``token`` (a job's own output folder)."""
        ...

    def close(self) -> None:
        """Close the connection (idempotent)."""
        ...
