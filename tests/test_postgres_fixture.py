"""The PostgreSQL server of the tests (tests/postgres.py) is real, private and stoppable."""

from __future__ import annotations

import os
import re
from pathlib import Path

import psycopg
import pytest

from . import postgres
from .postgres import HOST, PostgresError, PostgresServer, find_bindir, running_postgres
from .servers import is_running


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    """The rows of ``sql`` (statements without rows: an empty list)."""
    with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def test_the_server_answers_on_loopback(postgres_server: PostgresServer) -> None:
    assert re.fullmatch(
        rf"postgresql://lmms:{re.escape(postgres_server.password)}@127\.0\.0\.1:\d+/postgres",
        postgres_server.url,
    )
    assert f":{postgres_server.port}/" in postgres_server.url
    rows = query(postgres_server.url, "SELECT inet_server_addr()::text, current_user")
    assert rows == [(f"{HOST}/32", "lmms")]
    assert query(postgres_server.url, "SHOW listen_addresses") == [(HOST,)]
    assert query(postgres_server.url, "SHOW unix_socket_directories") == [("",)]
    assert postgres_server.pid is not None and is_running(postgres_server.pid)
    assert postgres_server.password not in repr(postgres_server)


def test_a_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    wrong = postgres_server.url.replace(postgres_server.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        query(wrong, "SELECT 1")


def test_each_test_gets_a_schema_name_of_its_own(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    base, _, schema = postgres_url.partition("?schema=")
    assert base == postgres_server.url
    assert re.fullmatch(r"t_[0-9a-f]{16}", schema)
    # a valid, unquoted identifier: the ledger can create it
    query(base, f"CREATE SCHEMA {schema}; DROP SCHEMA {schema}")


def test_restart_keeps_the_data_and_the_url(postgres_server: PostgresServer) -> None:
    url, old_pid = postgres_server.url, postgres_server.pid
    assert old_pid is not None
    query(url, "CREATE TABLE kept_by_restart (n int); INSERT INTO kept_by_restart VALUES (7)")
    try:
        postgres_server.restart()
        assert postgres_server.url == url
        assert postgres_server.pid is not None and postgres_server.pid != old_pid
        assert not is_running(old_pid)
        assert query(url, "SELECT n FROM kept_by_restart") == [(7,)]
    finally:
        query(url, "DROP TABLE IF EXISTS kept_by_restart")


@pytest.mark.slow
def test_stop_start_and_close_of_a_server_of_its_own() -> None:
    with running_postgres() as server:
        folder, first = server.folder, server.pid
        assert first is not None
        query(server.url, "CREATE TABLE t (n int); INSERT INTO t VALUES (1)")
        server.stop()
        assert server.pid is None and not is_running(first)
        with pytest.raises(psycopg.OperationalError):
            query(server.url, "SELECT 1")
        server.start()
        assert server.pid is not None and server.pid != first
        assert query(server.url, "SELECT n FROM t") == [(1,)]
        last = server.pid
    assert not is_running(last)
    assert not folder.exists()


def test_the_server_runs_as_another_user_when_we_are_root(
    postgres_server: PostgresServer,
) -> None:
    assert postgres_server.pid is not None
    owner = Path(f"/proc/{postgres_server.pid}").stat().st_uid
    if os.geteuid() == 0:
        assert owner != 0  # PostgreSQL refuses root
    else:
        assert owner == os.geteuid()


def test_the_newest_debian_bindir_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    found = ["/usr/lib/postgresql/9.6/bin/initdb", "/usr/lib/postgresql/15/bin/initdb"]
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: list(reversed(found)))
    assert find_bindir() == Path("/usr/lib/postgresql/15/bin")


def test_missing_binaries_say_to_run_make_postgresql(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    monkeypatch.setenv("PATH", str(tmp_path))  # no initdb there
    with pytest.raises(PostgresError, match="run `make postgresql`"):
        find_bindir()
