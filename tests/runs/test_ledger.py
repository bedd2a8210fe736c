"""The ledger file: created, reopened, migrated; refused with a typed error when it is
corrupt, foreign, newer, read-only or full; never half written; safe for two processes."""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import lmms_eval_client._runs.ledger_schema as schema_module
import lmms_eval_client._runs.sqlite_store as ledger_module
from lmms_eval_client import (
    CorruptLedgerError,
    EvalClient,
    EvalRun,
    ForeignLedgerError,
    InvalidArgumentError,
    JobLostError,
    LedgerBusyError,
    LedgerError,
    LedgerFullError,
    LedgerNotFoundError,
    LedgerReadOnlyError,
    LmmsEvalError,
    NewerLedgerError,
    RunTimeoutError,
    SubmissionUnresolvedError,
)
from lmms_eval_client.testing import LocalServer

from ._support import QWEN, server_jobs

NOWHERE = "http://127.0.0.1:9"  # nothing is sent by opening a run


def open_run(path: Path | str) -> EvalRun:
    return EvalRun(EvalClient(NOWHERE), path)


def long_job(**extra: object) -> dict[str, object]:
    return {**QWEN, "sim_duration": 300, **extra}


def test_a_new_ledger_is_created_and_reopened_with_its_jobs(
    local_server: LocalServer, tmp_path: Path
) -> None:
    path = tmp_path / "run.sqlite"
    with EvalClient(local_server.url) as client:
        with EvalRun(client, path) as run:
            job = run.submit("qwen2_vl", ["mme"], model_args=long_job(), labels={"epoch": 1})
        with EvalRun(client, path) as again:
            (reopened,) = again.jobs()
    assert reopened.job_id == job.job_id and reopened.labels == {"epoch": 1}
    assert reopened.state == "queued"
    head = path.read_bytes()[:16]
    assert head == b"SQLite format 3\x00"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x4C4D4552
        assert conn.execute("PRAGMA user_version").fetchone()[0] == ledger_module.SCHEMA_VERSION


def test_an_empty_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: sqlite3 opened a temporary database, gone at close: every job untracked, a
    # key sent again at each start, `runs migrate SRC ""` copied into nothing (exit 0).
    from typer.testing import CliRunner

    from lmms_eval_client.cli.app import app

    with pytest.raises(InvalidArgumentError, match="path is empty"):
        open_run("")
    monkeypatch.chdir(tmp_path)
    open_run("src.sqlite").close()
    done = CliRunner().invoke(app, ["runs", "migrate", "src.sqlite", ""])
    assert done.exit_code == 2 and "path is empty" in done.output, done.output


def test_history_is_append_only_and_jobs_are_never_deleted(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    open_run(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO jobs (token, state, labels, request, server, attempt, created_at, "
            "updated_at) VALUES ('t', 'queued', '{}', '{\"model\":\"m\",\"tasks\":[\"t\"]}', "
            "'x', 1, 0, 0)"
        )
        conn.execute(
            "INSERT INTO observations (seq, at, event, state) VALUES (1, 0, 'intent', 'q')"
        )
        for statement in (
            "DELETE FROM jobs",
            "DELETE FROM observations",
            "UPDATE observations SET event = 'forged'",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="never deletes or rewrites"):
                conn.execute(statement)


def test_garbage_is_a_corrupt_ledger(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    path.write_bytes(b'{"this is": "json, not a ledger"}')
    with pytest.raises(CorruptLedgerError) as info:
        open_run(path)
    assert info.value.path == str(path)
    assert "not a SQLite database" in str(info.value)
    assert path.read_bytes() == b'{"this is": "json, not a ledger"}'  # left as it was


def test_a_damaged_ledger_is_a_corrupt_ledger(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    open_run(path).close()
    data = bytearray(path.read_bytes())
    data[4096 + 8 : 4096 * 3] = b"\xa5" * (4096 * 2 - 8)  # pages 2-3: the jobs table's b-trees
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptLedgerError, match="damaged"):
        open_run(path)


def test_another_programs_database_is_foreign(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ada')")
    with pytest.raises(ForeignLedgerError, match="another program"):
        open_run(path)
    with sqlite3.connect(path) as conn:  # untouched
        assert conn.execute("SELECT name FROM users").fetchall() == [("ada",)]
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0


def test_a_ledger_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    open_run(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 7")
    with pytest.raises(NewerLedgerError) as info:
        open_run(path)
    assert (info.value.found, info.value.supported) == (7, ledger_module.SCHEMA_VERSION)
    assert "upgrade lmms-eval-client" in str(info.value)


def test_an_older_schema_is_migrated_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run.sqlite"
    open_run(path).close()
    migrations = dict(schema_module.MIGRATIONS)
    now = schema_module.SCHEMA_VERSION
    for module in (ledger_module, schema_module):
        monkeypatch.setattr(module, "SCHEMA_VERSION", now + 1)
    failing = ("ALTER TABLE jobs ADD COLUMN lane TEXT", "SELECT no_such_fn()")
    for module in (ledger_module, schema_module):
        monkeypatch.setattr(module, "MIGRATIONS", {**migrations, now + 1: failing})
    with pytest.raises(LedgerError):
        open_run(path)
    with sqlite3.connect(path) as conn:  # the failed migration left the version as it was
        assert conn.execute("PRAGMA user_version").fetchone()[0] == now
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
        assert "lane" not in columns
    lane = ("ALTER TABLE jobs ADD COLUMN lane TEXT",)
    for module in (ledger_module, schema_module):
        monkeypatch.setattr(module, "MIGRATIONS", {**migrations, now + 1: lane})
    open_run(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == now + 1
        assert "lane" in [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]


def test_a_schema_1_ledger_gets_its_fingerprint_key(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    with sqlite3.connect(path) as conn:  # as lmms-eval-client wrote it before schema 2
        for statement in schema_module.MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {schema_module.APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
    open_run(path).close()
    with sqlite3.connect(path) as conn:
        (key,) = conn.execute("SELECT value FROM ledger_keys WHERE name = 'fingerprint'")
        assert len(key[0]) == 32
        assert conn.execute("PRAGMA user_version").fetchone()[0] == ledger_module.SCHEMA_VERSION


def test_a_missing_folder_is_a_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        open_run(tmp_path / "no" / "such" / "run.sqlite")


# -- read-only: root ignores permission bits, so root gets a read-only file system ---------


@contextlib.contextmanager
def read_only_folder(folder: Path, prepare: Callable[[Path], None]) -> Iterator[Path]:
    """``folder`` made read-only after ``prepare(folder)``: by permissions for a normal user,
    as a tmpfs remounted read-only for root (skipped where it cannot mount)."""
    folder.mkdir()
    if os.geteuid() != 0:
        prepare(folder)
        for child in folder.iterdir():
            child.chmod(0o444)
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(
        ["mount", "-t", "tmpfs", "tmpfs", str(folder)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        prepare(folder)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "existing-file"])
def test_a_read_only_place_is_a_typed_error(tmp_path: Path, existing: bool) -> None:
    def prepare(folder: Path) -> None:
        if existing:
            open_run(folder / "run.sqlite").close()

    with read_only_folder(tmp_path / "ro", prepare) as folder:
        path = folder / "run.sqlite"
        with pytest.raises(LedgerReadOnlyError) as info:
            open_run(path)
        assert "Use a writable path" in str(info.value)
        assert [p.name for p in folder.iterdir()] == (["run.sqlite"] if existing else [])


# -- a full disk ---------------------------------------------------------------------------


def test_a_full_disk_records_nothing_and_sends_nothing(
    local_server: LocalServer, tmp_path: Path
) -> None:
    path = tmp_path / "run.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, path) as run:
        run.submit("qwen2_vl", ["mme"], model_args=long_job(), labels={"n": 1})
        conn = run._ledger._store._conn  # the ledger may not grow: SQLite reports SQLITE_FULL
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        big = {"blob": "x" * 50_000}
        with pytest.raises(LedgerFullError) as info:
            run.submit("qwen2_vl", ["mme"], model_args=long_job(), labels=big)
        assert "disk is full" in str(info.value) and "Nothing of it was recorded" in str(info.value)
        assert len(run.jobs()) == 1
        assert len(server_jobs(local_server.url)) == 1  # nothing was sent
        conn.execute("PRAGMA max_page_count = 1073741823")
        run.submit("qwen2_vl", ["mme"], model_args=long_job(), labels=big)
    with sqlite3.connect(path) as conn:
        events = [row[0] for row in conn.execute("SELECT event FROM observations ORDER BY id")]
    assert events == ["intent", "answer", "intent", "answer"]


def test_a_real_full_file_system_is_a_typed_error(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        (mount / "filler").write_bytes(b"\0" * (60 * 1024))
        with pytest.raises((LedgerFullError, LedgerError)) as info:
            open_run(mount / "run.sqlite")
        assert isinstance(info.value, LedgerFullError) or "full" in str(info.value).lower()
    finally:
        subprocess.run(["umount", str(mount)], check=True)


# -- two processes -------------------------------------------------------------------------

_SUBMIT_LOOP = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[4])
    from lmms_eval_client import EvalClient
    from lmms_eval_client import EvalRun
    with EvalClient(sys.argv[1]) as client, EvalRun(client, sys.argv[2]) as run:
        for n in range(int(sys.argv[3])):
            run.submit("qwen2_vl", ["mme"], model_args={
                "pretrained": "Qwen/Qwen2-VL-2B-Instruct", "sim_duration": 300},
                labels={"writer": sys.argv[5], "n": n})
            run.jobs()
    print("done")
    """
)


@pytest.mark.slow
def test_two_processes_share_one_ledger(local_server: LocalServer, tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    open_run(path).close()
    root = str(Path(__file__).resolve().parents[2])
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _SUBMIT_LOOP, local_server.url, str(path), "25", root, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("trainer", "notebook")
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0 and out.strip() == "done", err
    jobs = EvalRun(EvalClient(local_server.url), path).jobs()  # its jobs are pending there
    assert len(jobs) == 50 and all(job.job_id for job in jobs)
    assert len({job.job_id for job in jobs}) == 50
    assert {job.job_id for job in jobs} == {j["job_id"] for j in server_jobs(local_server.url)}
    for name in ("trainer", "notebook"):
        assert sorted(j.labels["n"] for j in jobs if j.labels["writer"] == name) == list(range(25))


def test_a_ledger_locked_too_long_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    open_run(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LedgerBusyError, match="locked"):
            EvalRun(EvalClient(NOWHERE), path, busy_timeout=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_new_ledger_opens_once_another_connection_ends_its_write(tmp_path: Path) -> None:
    # Processes opening one new ledger together: SQLite answers the WAL switch of a file
    # another connection is writing with SQLITE_BUSY at once, busy timeout or not.
    path = tmp_path / "run.sqlite"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    done = threading.Timer(0.2, writer.execute, ("COMMIT",))
    done.start()
    try:
        with EvalRun(EvalClient(NOWHERE), path) as run:
            assert run.jobs() == []
    finally:
        done.join()
        writer.close()


@pytest.mark.parametrize(
    "error",
    [
        LedgerFullError("full", path="/x/run.sqlite"),
        LedgerNotFoundError("There is no run ledger at '/x'", path="/x"),
        NewerLedgerError("newer", path="/x", found=3, supported=1),
        SubmissionUnresolvedError("lost", token="abc", output_dir="/o", reason="r", final=False),
        JobLostError("gone", job_id="j", last_state="running", labels={"epoch": 1}),
        RunTimeoutError("late", pending=[1, 2]),
    ],
    ids=lambda e: type(e).__name__,
)
def test_run_errors_pickle_and_copy(error: LmmsEvalError) -> None:
    for clone in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(clone) is type(error) and str(clone) == str(error)
        assert clone.__dict__ == error.__dict__
        assert isinstance(clone, LmmsEvalError)
