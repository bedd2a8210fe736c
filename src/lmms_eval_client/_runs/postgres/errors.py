"""What a PostgreSQL ledger's failures are, as the run's typed errors: classified by the
SQLSTATE (or, for a failed connect, by the server's words), never with the URL's password."""

from __future__ import annotations

import re

import psycopg

from ..errors import (
    LedgerAuthError,
    LedgerBusyError,
    LedgerConnectionError,
    LedgerError,
    LedgerFullError,
    LedgerReadOnlyError,
)
from .url import scrub

READS = ("opening it", "reading it")


def said(exc: psycopg.Error, secrets: tuple[str, ...]) -> str:
    """What the driver said, on one line, without the URL's password."""
    return " ".join(scrub(str(exc), secrets).split()) or type(exc).__name__


def not_permitted(path: str, doing: str, text: str) -> LedgerAuthError:
    return LedgerAuthError(
        f"The run ledger {path!r} may not be read by this user while {doing}: "
        f"{text}. Ask its owner to GRANT USAGE ON SCHEMA and SELECT (INSERT, UPDATE and "
        "DELETE to write) ON ALL TABLES IN SCHEMA of the run to the user.",
        path=path,
    )


def ledger_error(
    exc: psycopg.Error, path: str, doing: str, secrets: tuple[str, ...]
) -> LedgerError:
    """The typed error of a psycopg failure while ``doing`` (``path``: the URL as shown)."""
    text = said(exc, secrets)
    where = f"The run ledger {path!r}"
    state = exc.sqlstate or ""
    lowered = str(exc).lower()  # (classified by what the driver said, shown scrubbed)
    if (
        state.startswith("28")
        or "authentication failed" in lowered
        or ("no password supplied" in lowered)
    ):
        return LedgerAuthError(
            f"{where} refused the connection while {doing}: {text}. Check the URL's user "
            "and password (or ~/.pgpass, $PGPASSWORD).",
            path=path,
        )
    if state == "55P03":
        return LedgerBusyError(
            f"{where} stayed locked by another process while {doing} ({text}); try again.",
            path=path,
        )
    if state == "57014":  # the role's statement_timeout, or pg_cancel_backend
        return LedgerBusyError(
            f"{where} cancelled a statement while {doing} ({text}): a statement_timeout "
            "of its user shorter than the ledger's busy_timeout, or an administrator's "
            "cancel. Nothing of it was recorded; try again.",
            path=path,
        )
    if state in ("40001", "40P01"):  # a serialization failure, a deadlock
        return LedgerBusyError(
            f"{where} gave way to another session while {doing} ({text}). Nothing of "
            "it was recorded; try again.",
            path=path,
        )
    # a read refused (no SELECT on a table); a DDL refused is the write case below
    if state == "42501" and "permission denied for table" in lowered and doing in READS:
        return not_permitted(path, doing, text)
    if state in ("25006", "42501"):
        return LedgerReadOnlyError(
            f"{where} cannot be written while {doing}: {text}. Grant the user the "
            "rights on the schema (CREATE, and INSERT/UPDATE/SELECT on its tables), or use "
            "another schema.",
            path=path,
        )
    if state.startswith("53"):
        return LedgerFullError(
            f"{where} could not be written while {doing}: {text}. Nothing of it was "
            "recorded; free some space on the database server and try again.",
            path=path,
        )
    # (a failed connect carries no sqlstate: the server's FATAL line says it)
    if state == "3D000" or re.search(r'database ".*" does not exist', str(exc)):
        return LedgerError(
            f"{where} names a database that does not exist ({text}): create it first "
            "(createdb NAME, or CREATE DATABASE NAME).",
            path=path,
        )
    if state == "25P03":  # idle_in_transaction_session_timeout (a process frozen mid-write)
        return LedgerConnectionError(
            f"{where} ended this session while {doing}: it sat idle inside a transaction "
            f"longer than the server allows ({text}); nothing of it was recorded, and the "
            "ledger reconnects at its next use.",
            path=path,
        )
    if isinstance(exc, psycopg.OperationalError) or state.startswith(("08", "57P")):
        return LedgerConnectionError(
            f"{where} could not be reached or the connection was lost while {doing}: "
            f"{text}. Nothing of it was recorded (unless the connection was lost while "
            "committing); the ledger reconnects at its next use.",
            path=path,
        )
    return LedgerError(f"{where} failed while {doing}: {text}", path=path)
