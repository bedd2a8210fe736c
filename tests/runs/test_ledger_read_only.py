"""A ledger opened read-only (what ``lmms-eval-client runs ls|show`` read): nothing is
written, not even the -wal and -shm files SQLite keeps beside a ledger in use, and its
connection refuses writes; the latest commits of a writer still running are read."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

import lmms_eval_client._runs.sqlite_store as ledger_module
from lmms_eval_client import LedgerError, LedgerNotFoundError, LedgerReadOnlyError, NewerLedgerError
from lmms_eval_client._runs.ledger import Ledger

from .test_ledger import read_only_folder
from .test_ledger_damage import write_ledger


def beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_opened_read_only_nothing_is_written(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "run.sqlite")
    before = path.read_bytes()
    ledger = Ledger(path, read_only=True)
    try:
        assert [job.labels["epoch"] for job in ledger.jobs()] == [0, 1, 2, 3]
        assert beside(path) == ["run.sqlite"]  # no -wal, no -shm, even while it is open
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ledger._store._conn.execute("CREATE TABLE x (y)")
        with pytest.raises(LedgerReadOnlyError, match="read-only"):
            ledger.mark_harvested([1])
    finally:
        ledger.close()
    assert beside(path) == ["run.sqlite"] and path.read_bytes() == before


def test_read_only_a_missing_ledger_is_a_ledger_not_found_error(tmp_path: Path) -> None:
    # Before: a plain LedgerError (its message the only mark of "no such ledger"), and
    # for a missing folder "cannot be created", though opening read-only creates nothing.
    for path in (tmp_path / "none.sqlite", tmp_path / "no" / "such" / "run.sqlite"):
        with pytest.raises(LedgerNotFoundError, match="There is no run ledger at") as info:
            Ledger(path, read_only=True)
        assert isinstance(info.value, LedgerError) and info.value.path == str(path)
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_read_only_it_reads_the_commits_of_a_writer_still_running(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "run.sqlite")
    writer = Ledger(path)
    try:
        writer.record_end(4, "unsent", "proven absent", "unsent")  # in its -wal, not the file
        assert "run.sqlite-wal" in beside(path)
        reader = Ledger(path, read_only=True)
        try:
            assert reader.job(4).state == "unsent"
        finally:
            reader.close()
    finally:
        writer.close()


def test_read_only_an_older_schema_is_read_without_migrating_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_ledger(tmp_path / "run.sqlite")
    migrations = dict(ledger_module.MIGRATIONS)
    current = ledger_module.SCHEMA_VERSION  # a next version, as a later release would add
    monkeypatch.setattr(ledger_module, "SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(
        ledger_module,
        "MIGRATIONS",
        {**migrations, current + 1: ("ALTER TABLE jobs ADD COLUMN lane TEXT",)},
    )
    ledger = Ledger(path, read_only=True)
    try:
        assert len(ledger.jobs()) == 4
        assert "lane" in [row[1] for row in ledger._store._conn.execute("PRAGMA table_info(jobs)")]
    finally:
        ledger.close()
    with sqlite3.connect(path) as conn:  # the file is as it was
        assert conn.execute("PRAGMA user_version").fetchone()[0] == current
        assert "lane" not in [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
    conn.close()


def test_read_only_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "run.sqlite")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    with pytest.raises(NewerLedgerError):
        Ledger(path, read_only=True)


def test_a_read_only_ledger_serves_many_threads(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "run.sqlite")
    ledger = Ledger(path, read_only=True)
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                assert len(ledger.jobs()) == 4 and ledger.history(2)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.close()
    assert failures == []


def test_read_only_a_journal_that_cannot_be_read_without_writing_is_explained(
    tmp_path: Path,
) -> None:
    """A -wal left by a writer (running, or killed) needs a -shm beside it to be read: where
    none can be created, the error says so and what to do."""
    path = write_ledger(tmp_path / "run.sqlite")
    writer = Ledger(path)

    def prepare(folder: Path) -> None:  # the file and its -wal, as a killed writer leaves them
        writer.record_end(4, "unsent", "proven absent", "unsent")
        for suffix in ("", "-wal"):
            shutil.copy(f"{path}{suffix}", folder / f"run.sqlite{suffix}")

    try:
        with read_only_folder(tmp_path / "ro", prepare) as folder:
            with pytest.raises(LedgerReadOnlyError) as info:
                Ledger(folder / "run.sqlite", read_only=True)
            assert "run.sqlite-shm" in str(info.value) and "EvalRun" in str(info.value)
            assert beside(folder / "run.sqlite") == ["run.sqlite", "run.sqlite-wal"]
    finally:
        writer.close()
