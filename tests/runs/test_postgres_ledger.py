"""The PostgreSQL ledger's own behaviour: its URL, errors, schema marks, connection loss,
runs side by side in one database. (What both stores share runs over both in the other run
tests: see ``ledger_target`` in conftest.py.)"""

from __future__ import annotations

import copy
import pickle
import sys
import time
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from lmms_eval_client import (
    EvalClient,
    EvalRun,
    ForeignLedgerError,
    InvalidArgumentError,
    LedgerAuthError,
    LedgerBusyError,
    LedgerConnectionError,
    LedgerError,
    LedgerNotFoundError,
    LedgerReadOnlyError,
    MissingDependencyError,
    NewerLedgerError,
    write_report,
)
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_reads import owner_and_snapshot
from lmms_eval_client._runs.postgres.store import _LOCK_CLASS, PostgresStore
from lmms_eval_client._runs.postgres.url import parse_url
from lmms_eval_client.testing import LocalServer

from ..postgres import PostgresServer
from ._support import QWEN, LedgerTarget

NOWHERE = "http://127.0.0.1:9"


def _schema(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


def _intent(ledger: Ledger, token: str = "t1") -> int:
    from lmms_eval_api.models import EvaluateRequest

    body = EvaluateRequest.from_dict({"model": "qwen2_vl", "tasks": ["mme"]})
    job = ledger.record_intent(
        token=token, labels={}, request=body, server=NOWHERE, owner="h:1:x",
        snapshot=QueueSnapshot((), 0, 0).to_json(),
    )  # fmt: skip
    return job.seq


def test_a_run_is_a_schema_and_two_runs_share_a_database(
    local_server: LocalServer, postgres_server: PostgresServer
) -> None:
    first, second = (f"{postgres_server.url}?schema=sweep-{n}" for n in (1, 2))
    with EvalClient(local_server.url) as client, EvalRun(client, first) as a:
        with EvalRun(client, second) as b:
            a.submit("qwen2_vl", ["mme"], model_args=QWEN, key="step-1")
            b.submit("qwen2_vl", ["mme"], model_args=QWEN, key="step-1")  # its own keys
            assert [j.seq for j in a.jobs()] == [1] and [j.seq for j in b.jobs()] == [1]
        assert "lmms:***@" in a.ledger_path and postgres_server.password not in a.ledger_path
    with psycopg.connect(postgres_server.url) as conn:
        meta = conn.execute('SELECT name, value FROM "sweep-1".ledger_meta ORDER BY name')
        assert meta.fetchall() == [
            ("application", "lmms-eval-client run ledger"),
            ("schema_version", "5"),
        ]


def test_the_password_is_in_no_message_repr_or_pickle(postgres_server: PostgresServer) -> None:
    wrong = postgres_server.url.replace(postgres_server.password, "not-the-password")
    with pytest.raises(LedgerAuthError) as info:
        Ledger(wrong)
    error = info.value
    for text in (str(error), repr(error), error.path, str(pickle.loads(pickle.dumps(error)))):
        assert "not-the-password" not in text and "***" in error.path
    assert "password authentication failed" in str(error)
    assert str(copy.copy(error)) == str(error)
    url = parse_url(postgres_server.url + "?schema=x")
    assert postgres_server.password not in repr(url) and postgres_server.password not in url.shown


def test_an_unreachable_server_is_a_connection_error(postgres_server: PostgresServer) -> None:
    down = postgres_server.url.replace(f":{postgres_server.port}/", ":9/")
    with pytest.raises(LedgerConnectionError, match="could not be reached") as info:
        Ledger(down)
    assert postgres_server.password not in str(info.value)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql:///db", "names no host"),
        ("postgresql://u@h/db?schema=pg_catalog", "not starting with 'pg_'"),
        ("postgresql://u@h/db?schema=a%20b", "1 to 63 letters"),
        ("postgresql://u@h:99999/db", "cannot be read: its port .99999. is not a number"),
        ("postgresql://u:pw@h:99999/db", "cannot be read: its port is not a number"),
        # libpq reads the user part up to the first "@": the rest of the password became
        # the host, quoted by its "failed to resolve host 'ret@127.0.0.1'"
        ("postgresql://u:pw@ret@127.0.0.1:9/db", "percent-encode it as %40"),
        ("postgresql://u@x:pw@127.0.0.1:9/db", "percent-encode it as %40"),
        # Before: "could not be reached" (exit 5), or a LedgerError "failed while opening it"
        # (an adversarial try): the option libpq refused was not said.
        ("postgresql://u:pw-secret@127.0.0.1:9/db?sslmode=bogus", 'sslmode value: "bogus"'),
        ("postgresql://u:pw-secret@127.0.0.1:9/db?connect_timeout=x", "for connect_timeout"),
        ("postgresql://u:pw-secret@127.0.0.1:9/db?sslmod=require", 'parameter: "sslmod"'),
        # the adversarial try of PostgreSQL ledgers: "could not be reached ... reconnects at
        # its next use", or a LedgerError: what libpq refused was not said as the caller's
        ("postgresql://u:pw-secret@127.0.0.1:9/db?port=99999", "invalid port number"),
        ("postgresql://u:pw-secret@127.0.0.1:9/db?service=nosuch", "definition of service"),
        ("postgresql://u:pw%zzsecret@127.0.0.1:9/db", "percent-encoded token"),
        ("postgresql://u:pw%00secret@127.0.0.1:9/db", "forbidden value"),
    ],
)
def test_a_bad_url_is_refused_before_connecting(url: str, words: str) -> None:
    with pytest.raises(InvalidArgumentError, match=words) as info:
        Ledger(url)
    assert ":pw@" not in str(info.value) and "pw-secret" not in str(info.value)


def test_a_database_that_does_not_exist_is_said_so(postgres_server: PostgresServer) -> None:
    # Before: LedgerConnectionError "could not be reached ... reconnects at its next use",
    # which team-scale.md's recipe retries for a minute (an adversarial try).
    url = postgres_server.url.replace("/postgres", "/no_such_db", 1)
    with pytest.raises(LedgerError, match="names a database that does not exist") as info:
        Ledger(url)
    assert not isinstance(info.value, LedgerConnectionError)
    assert postgres_server.password not in str(info.value)


def test_a_password_given_as_a_parameter_is_masked_too() -> None:
    url = parse_url("postgresql://u@h/db?password=s3cret&schema=run")
    assert url.shown == "postgresql://u@h/db?password=***&schema=run"
    assert "s3cret" in url.secrets and url.schema == "run"


def test_a_restarted_server_is_reconnected_to_at_the_next_use(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with closing(Ledger(postgres_url)) as ledger:
        seq = _intent(ledger)
        postgres_server.restart()  # the ledger's connection is dead now
        assert [job.seq for job in ledger.jobs()] == [seq]  # a read: tried again, once
        assert _intent(ledger, "t2") == seq + 1  # a write that had not begun: likewise
        postgres_server.stop()
        try:
            with pytest.raises(LedgerConnectionError, match="reconnects at its next use"):
                ledger.jobs()
        finally:
            postgres_server.start()
        assert len(ledger.jobs()) == 2


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    Ledger(postgres_url).close()
    with psycopg.connect(parse_url(postgres_url).conninfo) as conn:
        conn.execute(
            f"UPDATE \"{_schema(postgres_url)}\".ledger_meta SET value = '99' "
            "WHERE name = 'schema_version'"
        )
    with pytest.raises(NewerLedgerError, match="upgrade lmms-eval-client") as info:
        Ledger(postgres_url)
    assert (info.value.found, info.value.supported) == (99, 5)


def test_a_schema_named_in_other_case_than_the_one_there_says_which(postgres_url: str) -> None:
    # The adversarial try of PostgreSQL ledgers: an administrator's unquoted CREATE SCHEMA
    # Sweep_A made sweep_a; ?schema=Sweep_A then tried to create "Sweep_A" (a second run, or
    # "grant CREATE" to a user who had the rights on the schema made for it).
    lower = _schema(postgres_url)
    with psycopg.connect(parse_url(postgres_url).conninfo) as conn:
        conn.execute(f"CREATE SCHEMA {lower.upper()}")  # unquoted: lower case
    upper = postgres_url.replace(f"schema={lower}", f"schema={lower.upper()}")
    with pytest.raises(InvalidArgumentError, match=f"give schema={lower}$"):
        Ledger(upper)
    with closing(Ledger(postgres_url)) as ledger:
        assert ledger.jobs() == []


def test_a_session_idle_in_a_transaction_is_ended_by_the_server(postgres_url: str) -> None:
    # The adversarial try of PostgreSQL ledgers: a frozen process (SIGSTOP, a paused VM)
    # inside a transaction kept the run's write lock, every other writer refused, for hours.
    with closing(Ledger(postgres_url)) as ledger:
        store = ledger.store
        assert isinstance(store, PostgresStore)
        setting = store._connection("testing").execute("SHOW idle_in_transaction_session_timeout")
        assert setting.fetchone() == ("1min",)
        # the review: a session ended so raised a LedgerError that said nothing to do
        with (
            pytest.raises(LedgerConnectionError, match="idle inside a transaction"),
            ledger.transaction("a slow write") as conn,
        ):
            conn.execute("SET LOCAL idle_in_transaction_session_timeout = 100")
            time.sleep(0.5)  # (the server's own timer: no clock of ours to fake)
            conn.execute("SELECT 1")
        assert ledger.jobs() == []  # a new session
    # ... and an administrator's shorter setting stays
    stricter = f"{postgres_url}&options=-c%20idle_in_transaction_session_timeout%3D5000"
    with closing(Ledger(stricter)) as ledger:
        store = ledger.store
        assert isinstance(store, PostgresStore)
        setting = store._connection("testing").execute("SHOW idle_in_transaction_session_timeout")
        assert setting.fetchone() == ("5s",)


def test_a_schema_of_another_program_is_refused(postgres_url: str) -> None:
    schema = _schema(postgres_url)
    with psycopg.connect(parse_url(postgres_url).conninfo) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".orders (id int)')
    with pytest.raises(ForeignLedgerError, match="another program"):
        Ledger(postgres_url)


def test_a_user_without_rights_on_the_ledgers_schema_is_told_which_to_grant(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    # Before: "no schema has been selected to create in" (it tried to create the ledger
    # over one it could not see), or "There is no run ledger" (an adversarial try).
    with closing(Ledger(postgres_url)) as ledger:
        _intent(ledger)
    role = f"ro_{_schema(postgres_url)}"
    with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'ro-password-1234'")
    ro_url = postgres_url.replace(f"lmms:{postgres_server.password}", f"{role}:ro-password-1234")
    for read_only in (False, True):
        with pytest.raises(LedgerAuthError, match="GRANT USAGE ON SCHEMA") as info:
            Ledger(ro_url, read_only=read_only)
        assert "ro-password-1234" not in str(info.value)
    with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as conn:
        conn.execute(f'GRANT USAGE ON SCHEMA "{_schema(postgres_url)}" TO {role}')
    with pytest.raises(LedgerAuthError, match="SELECT"):
        Ledger(ro_url, read_only=True)
    # The review: a user who may not create a ledger is told to grant CREATE (a write).
    new_schema = ro_url.replace(f"schema={_schema(postgres_url)}", f"schema=n_{role}")
    with pytest.raises(LedgerReadOnlyError, match="CREATE"):
        Ledger(new_schema)


def test_read_only_needs_an_existing_ledger_and_writes_nothing(postgres_url: str) -> None:
    # Before: a plain LedgerError, told apart from the others only by its message.
    with pytest.raises(LedgerNotFoundError, match="There is no run ledger") as info:
        Ledger(postgres_url, read_only=True)
    assert info.value.path == parse_url(postgres_url).shown
    assert isinstance(info.value, LedgerError)
    with closing(Ledger(postgres_url)) as ledger:
        _intent(ledger)
    with closing(Ledger(postgres_url, read_only=True)) as reader:
        assert len(reader.jobs()) == 1
        with pytest.raises(LedgerReadOnlyError):
            _intent(reader, "t2")


def test_a_writer_waits_for_the_lock_up_to_the_busy_timeout(postgres_url: str) -> None:
    with closing(Ledger(postgres_url, busy_timeout=0.2)) as ledger:
        store = ledger.store
        assert isinstance(store, PostgresStore)
        with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s, %s)", (_LOCK_CLASS, store._lock_key))
            with pytest.raises(LedgerBusyError, match="locked by another process"):
                _intent(ledger)
        assert ledger.jobs() == []  # nothing half recorded
        _intent(ledger)


def test_the_history_is_append_only(postgres_url: str) -> None:
    with closing(Ledger(postgres_url)) as ledger:
        seq = _intent(ledger)
    schema = _schema(postgres_url)
    with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as conn:
        for statement in (
            f"UPDATE \"{schema}\".observations SET event = 'x'",
            f'DELETE FROM "{schema}".observations',
            f'DELETE FROM "{schema}".jobs WHERE seq = {seq}',
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="never deletes"):
                conn.execute(statement)


def test_a_submission_answered_since_it_was_listed_is_no_orphan(
    ledger_target: LedgerTarget,
) -> None:
    # A poller lists another process's submission, which records its answer meanwhile:
    # its snapshot is gone, and that is no damage (it raised CorruptLedgerError).
    with closing(Ledger(ledger_target)) as ledger:
        seq = _intent(ledger)
        assert owner_and_snapshot(ledger, seq) is not None
        ledger.record_answer(seq, "job-1", "queued", "answer", None)
        assert owner_and_snapshot(ledger, seq) is None


def test_the_report_of_a_run_on_a_password_protected_ledger(
    local_server: LocalServer, postgres_url: str, tmp_path: Path
) -> None:
    # The report reopens the ledger: by its target, not by the masked ledger_path (which
    # raised LedgerAuthError).
    with EvalClient(local_server.url) as client, EvalRun(client, postgres_url) as run:
        run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 1})
        run.wait(timeout=60)
        page = run.report(tmp_path / "report.html")
        assert write_report(run, tmp_path / "again.html").exists()
    text = Path(page).read_text(encoding="utf-8")
    assert "postgresql://lmms:***@" in text or "t_" in text
    assert all(secret not in text for secret in parse_url(postgres_url).secrets)


def test_without_psycopg_a_url_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"lmms-eval-client\[postgres\]"):
        Ledger("postgresql://u:pw@127.0.0.1:9/db")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u:SECRETPW@127.0.0.1:9/db",  # a scheme of SQLAlchemy's
        "pgsql://u:SECRETPW@127.0.0.1:9/db",
        "postgresql://u:SEC/RETPW@127.0.0.1:9/db",  # an unencoded "/" in the password
        "postgresql://u:123/SECRETPW@127.0.0.1:9/db",
        "postgresql://u:SECRETPW@[::1/db",  # not a URL urllib can read
        # (an adversarial try) a password of digits then an unencoded "?": urllib read a
        # port, libpq a query, and its error quoted it
        "postgresql://127.0.0.1:9?SECRETPW@127.0.0.1:9/db?schema=s1",  # (no name looked up)
        # typos: taken for a file's path and echoed ("its folder '... u:SECRETPW@...'")
        " postgresql://u:SECRETPW@127.0.0.1:9/db",
        "postgresql:/u:SECRETPW@127.0.0.1:9/db",
        "postgresql:u:SECRETPW@127.0.0.1:9/db",
        "postgresql//u:SECRETPW@127.0.0.1:9/db",
    ],
)
def test_a_url_it_cannot_use_is_refused_without_its_password(url: str) -> None:
    # The first two were opened as file paths ("its folder ... u:SECRETPW@... does not
    # exist"); the next two were shown whole; the next raised a raw ValueError.
    with pytest.raises((InvalidArgumentError, LedgerError)) as info:
        Ledger(url)
    assert "SECRET" not in str(info.value) and "RETPW" not in str(info.value)
    assert "SEC" not in str(info.value)  # nor its start


def test_urllibs_message_quotes_no_part_of_a_password() -> None:
    # Before: "cannot be read: Port could not be cast to integer value as 'SECRETab'", the
    # password's start before its unencoded "/" (found by an adversarial try).
    with pytest.raises(InvalidArgumentError, match="percent-encode") as info:
        Ledger("postgresql://lmms:SECRETab/cd@127.0.0.1:1/db?schema=x")
    assert "SECRET" not in str(info.value)


def test_a_short_password_hides_the_whole_driver_message(postgres_server: PostgresServer) -> None:
    url = postgres_server.url.replace(postgres_server.password, "a")
    with pytest.raises(LedgerAuthError) as info:
        Ledger(url)
    assert "could quote the password" in str(info.value)


def test_a_unix_socket_url_keeps_its_two_slashes() -> None:
    url = parse_url("postgresql:///evals?host=/run/postgresql&schema=run")
    assert url.conninfo.startswith("postgresql:///evals?host=%2Frun%2Fpostgresql&")


def test_a_closed_ledger_stays_closed(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    ledger.close()
    with pytest.raises(LedgerError, match="was closed"):
        ledger.jobs()  # (it reconnected silently and left a connection open)


def test_percent_and_question_marks_in_literals_reach_the_server_as_written(
    postgres_url: str,
) -> None:
    with closing(Ledger(postgres_url)) as ledger:
        # A literal "?" is the ledger's placeholder, as in sqlite3: only "%" is written as is.
        assert ledger.rows("SELECT '50%' AS x") == [{"x": "50%"}]


@pytest.mark.parametrize("busy_timeout", [float("nan"), float("inf"), -1.0])
def test_a_busy_timeout_is_checked_before_anything_is_opened(
    busy_timeout: float, tmp_path: Path
) -> None:
    with pytest.raises(InvalidArgumentError, match="busy_timeout"):
        Ledger(tmp_path / "run.sqlite", busy_timeout=busy_timeout)
    assert not (tmp_path / "run.sqlite").exists()


def test_both_stores_have_the_same_tables_and_columns(postgres_url: str, tmp_path: Path) -> None:
    """Both schemas are made from ``ledger_tables``: a column added to one is in the other."""
    import sqlite3
    from urllib.parse import parse_qsl, urlsplit, urlunsplit

    Ledger(postgres_url).close()
    Ledger(tmp_path / "run.sqlite").close()
    parts = urlsplit(postgres_url)
    plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    with psycopg.connect(plain) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name NOT IN ('ledger_meta', 'ledger_changes') "
            "ORDER BY table_name, ordinal_position",
            (dict(parse_qsl(parts.query))["schema"],),
        ).fetchall()
    in_postgres = [(table, column, nullable == "YES") for table, column, nullable in rows]
    with closing(sqlite3.connect(tmp_path / "run.sqlite")) as conn:
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        ).fetchall()
        in_sqlite = [
            (table, column[1], not column[3] and not column[5])
            for (table,) in tables
            for column in conn.execute(f"PRAGMA table_info({table})").fetchall()
        ]
    assert len(in_postgres) == 36  # jobs 25, observations 6, sink_writes 3, ledger_keys 2
    assert in_postgres == in_sqlite


def test_a_url_of_several_hosts_is_tried_host_after_host(postgres_url: str) -> None:
    # Before: refused, "its port is not a number ..." (urllib reads one host; libpq tries
    # each in turn: a standby first, say). An adversarial try.
    host = postgres_url.split("@", 1)[1].split("/", 1)[0]  # 127.0.0.1:PORT
    several = postgres_url.replace(f"@{host}/", f"@127.0.0.1:9,{host}/")
    with closing(Ledger(several)) as ledger:
        assert _intent(ledger) == 1


@pytest.mark.parametrize(
    "path",
    [
        "ledger:prod@2024.db",
        "runs/2024-01-01T10:00@node1.db",
        "sweep:lr=3e-4@bs=32.db",
        "C:/Users/bob@corp/ledger.db",
    ],
)
def test_a_files_path_with_a_colon_and_an_at_is_a_files_path(path: str) -> None:
    # (the review: a first rule for mistyped URLs refused these, an existing ledger too)
    from lmms_eval_client._runs.postgres.url import is_database_url

    assert is_database_url(path) is False


@pytest.mark.parametrize(
    "url",
    [
        "postgresql:///db?host=/run/postgresql&user=alice@example.com",
        "postgresql://db.internal/evals?user=alice@corp.com",
        "postgresql://u@h/db?sslmode=require&sslrootcert=/etc/ssl/ca@v2.pem",
    ],
)
def test_an_at_after_the_host_is_libpqs_to_read(url: str) -> None:
    # (the review: a first rule against a password's unencoded "?" refused these)
    assert parse_url(url).schema == "lmms_eval"
