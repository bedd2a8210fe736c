"""Opening a ledger file: what is at its path, the connection, and the checks of its schema.

What cannot be a ledger is refused before SQLite opens it, each with a typed error: a
symbolic link loop, a directory, a FIFO (opening one waits for a writer, forever), a device,
a file of another format. SQLite's integrity check then finds damaged pages, and the
``PRAGMA`` marks say whether the file is a ledger and of which schema.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Mapping

from .._results.bounded import NotRegularFile, open_regular
from .errors import ForeignLedgerError, LedgerError, LedgerReadOnlyError, NewerLedgerError
from .ledger_schema import APPLICATION_ID, SQLITE_FAILURES, SQLITE_HEADER, damaged, ledger_error

Migrations = Mapping[int, tuple[str, ...]]


def check_place(path: str) -> None:
    """Refuse what cannot be a ledger at ``path``, without waiting or writing (a missing file
    is fine where its folder exists: it is created)."""
    # realpath: the folder of a symbolic link's target (it never raises on a loop; opening does)
    folder = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(folder):
        raise LedgerError(
            f"The run ledger {path!r} cannot be created: its folder {folder!r} does not exist",
            path=path,
        )
    try:
        with open_regular(path) as file:  # never waits for a FIFO's writer
            head = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except NotRegularFile as exc:
        raise damaged(path, f"it is {exc.kind}, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise damaged(path, "it is a symbolic link loop, not a file (fix the link)") from None
        raise LedgerReadOnlyError(
            f"The run ledger {path!r} cannot be read: {exc.strerror}", path=path
        ) from exc
    if head and head != SQLITE_HEADER:
        raise damaged(path, "it is not a SQLite database (or another kind of file)")


def check_integrity(conn: sqlite3.Connection, path: str) -> None:
    """SQLite's quick check of every page: CorruptLedgerError when one is damaged."""
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()
    except SQLITE_FAILURES as exc:
        raise ledger_error(exc, path, "opening it") from exc
    if check is None or check[0] != "ok":
        found = check[0] if check else "no answer"
        raise damaged(path, f"SQLite's integrity check says {found!r}")


def check_schema(
    conn: sqlite3.Connection, path: str, supported: int, migrations: Migrations
) -> int:
    """The ledger's schema version (0: a new, empty file); ForeignLedgerError,
    NewerLedgerError or CorruptLedgerError when it cannot be read as a ledger.

    Raises SQLITE_FAILURES as they come (the caller knows what it was doing)."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    layout = _layout(conn)
    if app_id != APPLICATION_ID:
        if app_id == 0 and not layout and not version:
            return 0  # a new file (or an empty one): created by the migrations
        raise ForeignLedgerError(
            f"{path!r} is a SQLite database of another program, not a run ledger of "
            "lmms-eval-client: use another path.",
            path=path,
        )
    if version > supported:
        raise NewerLedgerError(
            f"The run ledger {path!r} has schema version {version}, written by a newer "
            f"lmms-eval-client (this one reads up to {supported}): upgrade lmms-eval-client "
            "to use it.",
            path=path,
            found=version,
            supported=supported,
        )
    if version < 1:  # marked as a ledger, without a schema
        raise damaged(path, f"schema version {version}")
    # A damaged name in the schema (a table, a column) fails every query that uses it.
    missing = sorted(_expected_layout(migrations, version) - layout)
    if missing:
        raise damaged(path, f"its schema (version {version}) lacks {', '.join(missing[:3])}")
    return int(version)


def _layout(conn: sqlite3.Connection) -> set[str]:
    """The tables, indexes and triggers of a database, and its tables' columns, by name."""
    names = set()
    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    for kind, name in rows.fetchall():
        names.add(f"{kind} {name}")
        if kind == "table":
            columns = conn.execute("SELECT name FROM pragma_table_info(?)", (name,)).fetchall()
            names.update(f"column {name}.{column}" for (column,) in columns)
    return names


def _expected_layout(migrations: Migrations, version: int) -> set[str]:
    """The layout of a ledger of schema ``version``: its migrations applied in memory."""
    memory = sqlite3.connect(":memory:")
    try:
        for step in range(1, version + 1):
            for statement in migrations[step]:
                memory.execute(statement)
        return _layout(memory)
    finally:
        memory.close()
