"""Opening a ledger file: what is at its path, the connection, and the checks of its schema.

What cannot be a ledger is refused before SQLite opens it, each with a typed error: a
symbolic link loop, a directory, a FIFO (opening one waits for a writer, forever), a device,
a file of another format. SQLite's integrity check then finds damaged pages, and the
``PRAGMA`` marks say whether the file is a ledger and of which schema.

Opened read-only (``lmms-eval-client runs ls``), nothing is written, so a ledger its user may
only read can be read: SQLite's ``mode=ro``, no journal-mode change, no migration (a ledger
of an older schema is migrated in a copy in memory, the file left as it is).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from .._exceptions import InvalidArgumentError
from .._results.bounded import NotRegularFile, open_regular
from .errors import (
    ForeignLedgerError,
    LedgerError,
    LedgerNotFoundError,
    LedgerReadOnlyError,
    NewerLedgerError,
)
from .filesystems import check_local_filesystem
from .ledger_schema import (
    APPLICATION_ID,
    SQLITE_FAILURES,
    SQLITE_HEADER,
    add_fingerprint_key,
    damaged,
    ledger_error,
)

Migrations = Mapping[int, tuple[str, ...]]


def check_place(
    path: str, *, read_only: bool = False, allow_network_filesystem: bool = False
) -> None:
    """Refuse what cannot be a ledger at ``path``, without waiting or writing (a missing file
    is fine where its folder exists: it is created, unless opened ``read_only``); and, to
    write, a ledger on a network file system unless ``allow_network_filesystem``
    (NetworkFilesystemError: reading one for a report is safe)."""
    if not path:  # sqlite3 would open a temporary database, gone at close with every job
        raise InvalidArgumentError(
            "The run ledger's path is empty: give a file (e.g. evals.sqlite) or a PostgreSQL URL"
        )
    if "\x00" in path:  # (os functions raise ValueError: no file system takes one)
        raise InvalidArgumentError(f"The run ledger's path {path!r} holds a NUL character")
    # realpath: the folder of a symbolic link's target (it never raises on a loop; opening does)
    try:
        folder = os.path.dirname(os.path.realpath(path))
    except OSError as exc:  # a relative path, from a working folder that was removed
        raise InvalidArgumentError(
            f"The run ledger's path {path!r} cannot be resolved: {exc.strerror or exc} (was "
            "the working folder removed?); give its absolute path"
        ) from None
    if not os.path.isdir(folder):
        if read_only:  # nothing would be created: there is no ledger, not a failed creation
            raise LedgerNotFoundError(
                f"There is no run ledger at {path!r}: its folder {folder!r} does not exist",
                path=path,
            )
        raise LedgerError(
            f"The run ledger {path!r} cannot be created: its folder {folder!r} does not exist",
            path=path,
        )
    if not read_only:
        check_local_filesystem(path, allow_network_filesystem=allow_network_filesystem)
    try:
        with open_regular(path) as file:  # never waits for a FIFO's writer
            head = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        if read_only:
            raise LedgerNotFoundError(f"There is no run ledger at {path!r}", path=path) from None
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


def connect(path: str, busy_timeout: float, *, read_only: bool) -> sqlite3.Connection:
    """The ledger's one connection, usable from any thread (the Ledger serializes its use)."""
    target = path
    if read_only:
        # Without a -wal file (no writer, or it closed cleanly) the file holds everything:
        # immutable=1 reads it without creating -wal and -shm files, which a user who may only
        # read cannot do (and which would be left behind, theirs). A writer's -wal holds
        # commits the file lacks: then SQLite reads through it (mode=ro).
        wal = os.path.exists(f"{path}-wal")
        target = Path(path).absolute().as_uri() + ("?mode=ro" if wal else "?mode=ro&immutable=1")
    try:
        conn = sqlite3.connect(
            target,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            uri=read_only,
        )
    except SQLITE_FAILURES as exc:
        raise opening_error(exc, path, read_only=read_only) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        # Foreign keys: on once the ledger is prepared (a migration rebuilds a table).
        if not read_only:
            conn.execute("PRAGMA synchronous = FULL")
    except SQLITE_FAILURES as exc:
        conn.close()
        raise opening_error(exc, path, read_only=read_only) from exc
    return conn


def opening_error(
    exc: sqlite3.Error | UnicodeDecodeError, path: str, *, read_only: bool
) -> LedgerError:
    """The typed error of a failure to open the ledger (read-only: what it means there)."""
    error = ledger_error(exc, path, "opening it")
    if read_only and isinstance(error, LedgerReadOnlyError):  # a -wal without its -shm
        name = os.path.basename(path)
        error = LedgerReadOnlyError(
            f"The run ledger {path!r} cannot be read without writing ({exc}): beside it is "
            f"{name}-wal, the journal of a writer still running or stopped without closing "
            f"it, and SQLite cannot create {name}-shm to read it. Open the ledger once where "
            "it can be written (EvalRun does), or read a copy of both files.",
            path=path,
        )
    return error


def check_integrity(conn: sqlite3.Connection, path: str) -> None:
    """SQLite's quick check of every page: CorruptLedgerError when one is damaged.

    Raises SQLITE_FAILURES as they come (the caller says what they mean)."""
    check = conn.execute("PRAGMA quick_check").fetchone()
    if check is None or check[0] != "ok":
        found = check[0] if check else "no answer"
        raise damaged(path, f"SQLite's integrity check says {found!r}")


def check_schema(
    conn: sqlite3.Connection, path: str, supported: int, migrations: Migrations
) -> int:
    """The ledger's schema version (0: a new, empty file); ForeignLedgerError,
    NewerLedgerError or CorruptLedgerError when it cannot be read as a ledger.

    Raises SQLITE_FAILURES as they come (the caller says what they mean)."""
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
    expected = _expected_layout(migrations, version)
    missing = sorted(expected - layout)
    if missing:
        raise damaged(path, f"its schema (version {version}) lacks {', '.join(missing[:3])}")
    # A version damaged downwards: migrating would add what the file already holds.
    later = sorted((layout - expected) & _expected_layout(migrations, supported))
    if later:
        raise damaged(path, f"its schema version {version} is older than its {later[0]}")
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


def open_read_only(
    conn: sqlite3.Connection, path: str, supported: int, migrations: Migrations
) -> sqlite3.Connection:
    """The connection a read-only ledger reads through, its file checked as when opened for
    writing; for an older schema, a copy in memory migrated to this version's: the file is
    never written."""
    try:
        check_integrity(conn, path)
        version = check_schema(conn, path, supported, migrations)
        if version == supported:
            return conn
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    except SQLITE_FAILURES as exc:
        raise opening_error(exc, path, read_only=True) from exc
    try:
        conn.backup(memory)
        memory.execute("BEGIN")
        for step in range(version + 1, supported + 1):
            for statement in migrations[step]:
                memory.execute(statement)
        add_fingerprint_key(memory, version)  # a copy's own: nothing it reads is sealed
        memory.execute("COMMIT")
    except SQLITE_FAILURES as exc:
        memory.close()
        raise ledger_error(exc, path, "reading it in this version's schema") from exc
    conn.close()
    return memory
