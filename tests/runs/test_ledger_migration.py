"""Issue 20, item 3, in the ledger: a job is (server, job_id). Schema 2 holds the same id on
two servers (schema 1 had ``job_id UNIQUE``), and a ledger of schema 1 is migrated when it
is opened, its jobs and history kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lmms_eval_api.models import EvaluateRequest
from lmms_eval_client import LedgerError
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

REQUEST = EvaluateRequest.from_dict({"model": "qwen2_vl", "tasks": ["mme"]})
A, B = "http://gpu-1:8000", "http://gpu-2:8000"


def schema_1_ledger(path: Path) -> None:
    """A ledger as lmms-eval-client wrote it with schema 1: a job answered, a retry of it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN IMMEDIATE")
    for statement in MIGRATIONS[1]:
        conn.execute(statement)
    insert = (
        "INSERT INTO jobs (token, job_id, state, labels, request, server, attempt, first_seq, "
        "retry_of, created_at, updated_at) VALUES (?, ?, ?, '{\"epoch\": 1}', ?, ?, ?, ?, ?, 1, 2)"
    )
    body = REQUEST.model_dump_json()
    conn.execute(insert, ("t1", "job-1", "failed", body, A, 1, None, None))
    conn.execute(insert, ("t2", "job-2", "queued", body, A, 2, 1, 1))
    conn.execute("UPDATE jobs SET retried_by = 2 WHERE seq = 1")
    conn.execute("INSERT INTO observations (seq, at, event, state) VALUES (1, 1, 'intent', 's')")
    conn.execute("INSERT INTO observations (seq, at, event, state) VALUES (2, 1, 'intent', 's')")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    conn.close()


def intent(ledger: Ledger, token: str, server: str) -> int:
    job = ledger.record_intent(
        token=token, labels={}, request=REQUEST, server=server, owner="o", snapshot={}
    )
    return job.seq


def test_a_schema_1_ledger_is_migrated_with_its_jobs_and_history(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    schema_1_ledger(path)
    ledger = Ledger(path)
    try:
        jobs = ledger.jobs()
        assert [(j.seq, j.job_id, j.server, j.retry_of, j.retried_by) for j in jobs] == [
            (1, "job-1", A, None, 2),
            (2, "job-2", A, 1, None),
        ]
        assert [o.event for o in ledger.history(1)] == ["intent"]
        # the same id on another server is another job; on the same server, a clash
        seq = intent(ledger, "t3", B)
        assert seq == 3  # numbering goes on
        assert ledger.record_answer(seq, "job-1", "queued", "answer", None).job_id == "job-1"
        assert ledger.known_job_ids(B) == {"job-1"}
        assert ledger.known_job_ids(A) == {"job-1", "job-2"}
        clash = intent(ledger, "t4", A)
        with pytest.raises(LedgerError, match="UNIQUE"), ledger.transaction("a clash") as conn:
            conn.execute("UPDATE jobs SET job_id = ? WHERE seq = ?", ("job-2", clash))
        # (an answer of a job tracked already is recorded lost: the job stays tracked once)
        assert ledger.record_answer(clash, "job-2", "queued", "answer", None).state == "lost"
    finally:
        ledger.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for statement in ("DELETE FROM jobs", "DELETE FROM observations"):
            with pytest.raises(sqlite3.IntegrityError, match="never deletes"):
                conn.execute(statement)
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute(
                "INSERT INTO observations (seq, at, event, state) VALUES (99, 0, 'x', 'y')"
            )
    finally:
        conn.close()


def shape(path: Path) -> dict[str, object]:
    """What a ledger's schema is made of: tables' columns, indexes' columns, triggers."""
    conn = sqlite3.connect(path)
    try:
        names = conn.execute("SELECT type, name, tbl_name FROM sqlite_master ORDER BY name")
        found: dict[str, object] = {}
        for kind, name, table in names.fetchall():
            if kind == "table":
                found[name] = conn.execute(f"PRAGMA table_xinfo({name})").fetchall()
                found[f"{name} keys"] = conn.execute(f"PRAGMA foreign_key_list({name})").fetchall()
            elif kind == "index":
                info = conn.execute(f"PRAGMA index_info({name})").fetchall()
                unique = [
                    row[2] for row in conn.execute(f"PRAGMA index_list({table})") if row[1] == name
                ]
                found[f"index on {table} {[row[2] for row in info]}"] = unique
            else:
                found[name] = (kind, table)
        return found
    finally:
        conn.close()


def test_a_migrated_ledger_has_the_schema_of_a_new_one(tmp_path: Path) -> None:
    schema_1_ledger(tmp_path / "old.sqlite")
    for path in (tmp_path / "old.sqlite", tmp_path / "new.sqlite"):
        Ledger(path).close()
    assert shape(tmp_path / "old.sqlite") == shape(tmp_path / "new.sqlite")
