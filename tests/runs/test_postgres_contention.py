"""The PostgreSQL ledger where a database's settings or another session get in the way
(an adversarial try): a role's default isolation level, its statement_timeout."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import psycopg
import pytest

from lmms_eval_client import LedgerBusyError, LedgerError
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.postgres.store import _LOCK_CLASS, PostgresStore
from lmms_eval_client._runs.postgres.url import parse_url

from .test_postgres_ledger import _intent


def _with_setting(url: str, setting: str) -> str:
    """The URL with a server setting of its sessions, as a DBA's ALTER ROLE would set it."""
    return f"{url}&options=-c%20{setting}"


def _waiting_on_the_runs_lock(conn: psycopg.Connection, count: int) -> None:
    deadline = time.monotonic() + 30
    while conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone() != (count,):
        assert time.monotonic() < deadline, f"{count} writers never queued on the run's lock"
        time.sleep(0.01)  # another session's state: no event to wait on


@pytest.mark.parametrize("isolation", ["repeatable%5C%20read", "serializable"])
def test_writers_queued_on_the_lock_each_write_whatever_the_default_isolation(
    postgres_url: str, isolation: str
) -> None:
    # Before: the second writer worked from a snapshot taken before the first committed,
    # and failed ("could not serialize access due to concurrent update"), reported as a
    # lost connection; every contended write of such a role failed so.
    url = _with_setting(postgres_url, f"default_transaction_isolation%3D{isolation}")
    ledgers = [Ledger(url) for _ in range(2)]
    _intent(ledgers[0], "t0")  # the schema exists: the writers below only queue on the lock
    store = ledgers[0].store
    assert isinstance(store, PostgresStore)
    failures: list[BaseException] = []

    def write(ledger: Ledger, token: str) -> None:
        try:
            _intent(ledger, token)
        except BaseException as exc:
            failures.append(exc)

    with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, store._lock_key))
        writers = [
            threading.Thread(target=write, args=(ledger, f"t{n + 1}"))
            for n, ledger in enumerate(ledgers)
        ]
        for writer in writers:
            writer.start()
        _waiting_on_the_runs_lock(holder, 2)
        holder.execute("COMMIT")
        for writer in writers:
            writer.join(timeout=60)
    for ledger in ledgers:
        ledger.close()
    assert failures == []
    with closing(Ledger(postgres_url)) as ledger:
        assert len(ledger.jobs()) == 3


def test_a_statement_cancelled_by_its_timeout_is_busy_not_a_lost_connection(
    postgres_url: str,
) -> None:
    # A role's statement_timeout shorter than the ledger's busy_timeout, another process
    # holding the run's lock: before, "could not be reached or the connection was lost".
    url = _with_setting(postgres_url, "statement_timeout%3D200")
    with closing(Ledger(url, busy_timeout=30)) as ledger:
        _intent(ledger, "t0")
        store = ledger.store
        assert isinstance(store, PostgresStore)
        with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s, %s)", (_LOCK_CLASS, store._lock_key))
            with pytest.raises(LedgerBusyError, match="statement_timeout") as raised:
                _intent(ledger, "t1")
        assert "connection was lost" not in str(raised.value)
        assert isinstance(raised.value, LedgerError)
        assert len(ledger.jobs()) == 1  # nothing half recorded
