"""A PostgreSQL ledger's schema: the SQLite ledger's tables in PostgreSQL's types, and how
it is marked and versioned.

The schema (namespace) of the run holds ``ledger_meta`` (``application``: this program's
mark; ``schema_version``: the same numbers as the SQLite ledger's ``user_version``), the
ledger's tables, and ``ledger_changes``, a counter every write transaction moves (what
``changes()`` reads, as SQLite's ``data_version``). ``MIGRATIONS[v]`` brings schema
``v - 1`` to ``v``, for versions after the first PostgreSQL one (5); they run in the opening
transaction, so a failed migration changes nothing.
"""

from __future__ import annotations

from .. import ledger_tables as tables
from ..ledger_schema import SCHEMA_VERSION

APPLICATION = "lmms-eval-client run ledger"
FIRST_VERSION = 5  # the first schema version a PostgreSQL ledger was made at

_APPEND_ONLY = (
    "CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'the ledger never deletes or rewrites history'; END $$"
)

# A new ledger, at SCHEMA_VERSION: the SQLite ledger's tables (``ledger_tables``). Times
# are seconds since the epoch (as in SQLite); JSON is text, as written (fingerprinted secrets
# included), so both stores hold the same bytes.
NEW_LEDGER: tuple[str, ...] = (
    "CREATE TABLE ledger_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE ledger_changes (one INTEGER PRIMARY KEY CHECK (one = 1), n BIGINT NOT NULL)",
    "INSERT INTO ledger_changes (one, n) VALUES (1, 0)",
    tables.create_table("ledger_keys", tables.key_columns(tables.POSTGRES)),
    tables.create_table("jobs", tables.job_columns(SCHEMA_VERSION, tables.POSTGRES)),
    tables.STATE_INDEX,
    tables.KEY_INDEX,
    tables.create_table("observations", tables.observation_columns(tables.POSTGRES)),
    tables.HISTORY_INDEX,
    tables.create_table("sink_writes", tables.sink_write_columns(tables.POSTGRES)),
    _APPEND_ONLY,
    "CREATE TRIGGER observations_append_only BEFORE UPDATE OR DELETE ON observations "
    "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
    "CREATE TRIGGER jobs_kept BEFORE DELETE ON jobs "
    "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
)

# MIGRATIONS[v]: the statements that bring a PostgreSQL ledger of schema v - 1 to v.
MIGRATIONS: dict[int, tuple[str, ...]] = {}

# The tables a ledger of the current schema has (what a check of its layout expects).
TABLES = frozenset(
    {"ledger_meta", "ledger_changes", "ledger_keys", "jobs", "observations", "sink_writes"}
)


def schema_statements(version: int) -> list[str]:
    """What brings a schema of ``version`` (0: an empty one) to SCHEMA_VERSION."""
    if version == 0:
        return list(NEW_LEDGER)
    steps = range(version + 1, SCHEMA_VERSION + 1)
    return [statement for step in steps for statement in MIGRATIONS[step]]
