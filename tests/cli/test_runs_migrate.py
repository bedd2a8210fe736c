"""``lmms-eval-client runs migrate SOURCE TARGET`` (issue 26): a SQLite run ledger copied
into a PostgreSQL schema (and back); the copy lists the same rows, and a run resumed on it
goes on after the copied seqs. A target holding jobs is refused, nothing written.

Before: exit 2, "No such command 'migrate'".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun, JobCompleted
from lmms_eval_client._runs.postgres.url import parse_url
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..postgres import PostgresServer, dump_schema
from .test_commands import invoke


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    return LocalServerConfig(job_duration=0.02, temp_dir_root=tmp_path)


@pytest.fixture
def sqlite_run(local_server: LocalServer, tmp_path: Path) -> Path:
    """Three completed jobs under keys step-1..3 (labels step=n)."""
    ledger = tmp_path / "evals.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        for step in (1, 2, 3):
            args = {"pretrained": f"org/ckpt-{step}"}
            run.submit("qwen2_vl", ["mme"], args, labels={"step": step}, key=f"step-{step}")
        assert all(isinstance(o, JobCompleted) for o in run.as_completed(timeout=60))
    return ledger


def test_migrate_sqlite_to_postgres_then_resume_there(
    sqlite_run: Path, postgres_url: str, postgres_server: PostgresServer, local_server: LocalServer
) -> None:
    done = invoke(["runs", "migrate", str(sqlite_run), postgres_url], None)
    assert done.exit_code == 0, done.output
    shown = parse_url(postgres_url).shown
    assert done.stdout == f"copied 3 jobs from {sqlite_run} to {shown}\n"
    assert postgres_server.password not in done.output
    for args in (["runs", "ls", "{}"], ["runs", "ls", "{}", "--json"], ["runs", "export", "{}"]):
        from_file = invoke([a.replace("{}", str(sqlite_run)) for a in args], None)
        from_url = invoke([a.replace("{}", postgres_url) for a in args], None)
        assert from_file.exit_code == 0 and from_url.exit_code == 0, from_url.output
        assert from_url.stdout == from_file.stdout and from_url.stdout.count("\n") >= 3
    with EvalClient(local_server.url) as client, EvalRun(client, postgres_url) as run:
        assert run.job("step-2").seq == 2  # a copied key
        job = run.submit("qwen2_vl", ["mme"], {"pretrained": "org/ckpt-4"}, key="step-4")
    assert job.seq == 4


def test_migrate_json_and_postgres_to_sqlite(
    sqlite_run: Path, postgres_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    assert invoke(["runs", "migrate", str(sqlite_run), postgres_url], None).exit_code == 0
    back = tmp_path / "back.sqlite"
    done = invoke(["runs", "migrate", postgres_url, str(back), "--json"], None)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {
        "copied": 3,
        "source": parse_url(postgres_url).shown,
        "target": str(back),
    }
    assert postgres_server.password not in done.output
    listed = [
        invoke(["runs", "ls", str(path), "--json"], None).stdout for path in (sqlite_run, back)
    ]
    assert listed[0] == listed[1]


def test_migrate_into_a_ledger_holding_jobs_is_refused_and_writes_nothing(
    sqlite_run: Path, postgres_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    assert invoke(["runs", "migrate", str(sqlite_run), postgres_url], None).exit_code == 0
    before = dump_schema(postgres_url)
    again = invoke(["runs", "migrate", str(sqlite_run), postgres_url], None)
    assert again.exit_code == 2, again.output
    assert "already holds 3 job(s)" in again.stderr and "nothing was written" in again.stderr
    assert postgres_server.password not in again.output
    assert dump_schema(postgres_url) == before
    file_before = sqlite_run.read_bytes()
    into_file = invoke(["runs", "migrate", postgres_url, str(sqlite_run)], None)
    assert into_file.exit_code == 2 and "already holds 3 job(s)" in into_file.stderr
    assert sqlite_run.read_bytes() == file_before


def test_migrate_from_a_missing_ledger_is_a_usage_error(tmp_path: Path, postgres_url: str) -> None:
    missing = tmp_path / "nope.sqlite"
    done = invoke(["runs", "migrate", str(missing), postgres_url], None)
    assert done.exit_code == 2 and "There is no run ledger" in done.stderr
    # Before: exit 1 for a PostgreSQL schema holding no ledger (a plain LedgerError).
    done = invoke(["runs", "migrate", postgres_url, str(tmp_path / "copy.sqlite")], None)
    assert done.exit_code == 2 and "There is no run ledger" in done.stderr
    assert not (tmp_path / "copy.sqlite").exists()
