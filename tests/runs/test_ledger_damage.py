"""A damaged ledger file: whatever was damaged (the path, a record, a column, a byte), opening
or reading it raises CorruptLedgerError (or the LedgerError subclass that says what is
wrong) naming the file and what to do; never a raw error, never a hang."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from lmms_eval_api.models import EvaluateRequest, JobInfo
from lmms_eval_client import (
    CorruptLedgerError,
    EvalClient,
    EvalRun,
    ForeignLedgerError,
    LedgerError,
    NewerLedgerError,
)
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_reads import owner_and_snapshot

NOWHERE = "http://127.0.0.1:9"  # nothing is sent by opening a run
OWNER = "gone-host:1:x"  # another machine's process: its intents are orphans by age
REQUEST = EvaluateRequest.from_dict(
    {"model": "qwen2_vl", "tasks": ["mme"], "model_args": {"pretrained": "Qwen/Qwen2-VL-2B"}}
)


def job_info(job_id: str, status: str) -> JobInfo:
    return JobInfo.model_validate(
        {
            "job_id": job_id, "status": status, "created_at": "2026-01-01T00:00:00",
            "started_at": "2026-01-01T00:00:01", "completed_at": "2026-01-01T00:01:00",
            "request": REQUEST.to_dict(), "error": None, "position_in_queue": 0,
            "result": {"Qwen__Qwen2-VL-2B": {"results": f"/out/{job_id}/r.json", "samples": []}},
        }
    )  # fmt: skip


def write_ledger(path: Path) -> Path:
    """A ledger with one job in each kind of row: queued, completed (info, summary,
    harvested), lost, and a submission still unanswered."""
    ledger = Ledger(path)
    snapshot = QueueSnapshot(("a", "b"), 3, 1).to_json()
    try:
        jobs = [
            ledger.record_intent(
                token=f"token-{n}",
                labels={"epoch": n, "tag": f"label-{n}"},
                request=REQUEST,
                server=NOWHERE,
                owner=OWNER,
                snapshot=snapshot,
            )
            for n in range(4)
        ]
        ledger.record_answer(jobs[0].seq, "job-0", "queued", "answer", {"job_id": "job-0"})
        ledger.record_answer(jobs[1].seq, "job-1", "queued", "answer", {"job_id": "job-1"})
        ledger.record_status(jobs[1].seq, "completed", job_info("job-1", "completed"))
        ledger.record_summary(jobs[1].seq, {"Qwen__Qwen2-VL-2B": {"mme": {"acc,none": 0.5}}})
        ledger.mark_harvested([jobs[1].seq])
        ledger.record_answer(jobs[2].seq, "job-2", "running", "answer", {"job_id": "job-2"})
        ledger.record_end(jobs[2].seq, "lost", "the server restarted", "lost")
    finally:
        ledger.close()
    return path


def read_everything(path: Path) -> None:
    """Every read a run and the command line make of a ledger."""
    ledger = Ledger(path)
    try:
        for job in ledger.jobs():
            ledger.job(job.seq)
            ledger.history(job.seq)
            if job.state == "submitting":  # an answered row keeps no queue snapshot
                owner_and_snapshot(ledger, job.seq)
            ledger.known_job_ids(job.server)
        ledger.unfinished()
        ledger.unharvested()
    finally:
        ledger.close()


def assert_corrupt(error: BaseException, path: Path) -> None:
    assert type(error) is CorruptLedgerError, repr(error)
    assert error.path == str(path) and repr(str(path)) in str(error)
    assert "another path" in str(error)  # what to do


def open_run(path: Path) -> EvalRun:
    return EvalRun(EvalClient(NOWHERE), path)


# -- the path ------------------------------------------------------------------------------


def test_a_symlink_loop_is_a_corrupt_ledger(tmp_path: Path) -> None:
    first, second = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    first.symlink_to(second)
    second.symlink_to(first)
    with pytest.raises(LedgerError) as info:
        open_run(first)
    assert_corrupt(info.value, first)
    assert "symbolic link" in str(info.value)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize("make", [Path.mkdir, _fifo], ids=["directory", "fifo"])
def test_a_path_that_is_no_file_is_refused_without_opening_it(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    path = tmp_path / "run.sqlite"
    make(path)
    raised: list[BaseException] = []

    def opening() -> None:
        try:
            open_run(path).close()
        except BaseException as exc:
            raised.append(exc)

    opener = threading.Thread(target=opening, daemon=True)
    opener.start()
    opener.join(5)
    if opener.is_alive():  # blocked opening the FIFO: a writer lets it go
        with open(path, "wb"):
            pass
        opener.join(5)
        pytest.fail("opening the ledger waited for a writer of the FIFO")
    (error,) = raised
    assert_corrupt(error, path)
    assert "not a file" in str(error)


# -- records -------------------------------------------------------------------------------


def _damage(path: Path, *statements: str) -> None:
    """Rewrite rows as a damaged disk would: the append-only trigger and the NOT NULL
    constraints are SQL's, not the disk's, so they are lifted while rewriting (the trigger
    is put back: a ledger without it is refused)."""
    with sqlite3.connect(path) as conn:
        (trigger,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'observations_append_only'"
        ).fetchone()
        conn.execute("DROP TRIGGER observations_append_only")
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = replace(sql, 'NOT NULL', '')")
    conn.close()
    with sqlite3.connect(path) as conn:  # the schema is read again
        for statement in statements:
            conn.execute(statement)
        conn.execute(trigger)
    conn.close()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a ledger of write_ledger, written once."""
    return write_ledger(tmp_path_factory.mktemp("original") / "run.sqlite").read_bytes()


def a_copy(original: bytes, path: Path) -> Path:
    path.write_bytes(original)
    return path


def test_a_cut_record_is_a_corrupt_ledger(tmp_path: Path, original: bytes) -> None:
    path = a_copy(original, tmp_path / "run.sqlite")
    _damage(path, "UPDATE observations SET data = substr(data, 1, 10) WHERE seq = 2")
    ledger = Ledger(path)
    try:
        with pytest.raises(LedgerError) as info:
            ledger.history(2)
    finally:
        ledger.close()
    assert_corrupt(info.value, path)
    assert "history" in str(info.value)


@pytest.mark.parametrize(
    "snapshot",
    ["''", "'{}'", "NULL", "'[]'", '\'{"ids": 5, "completed": 0, "failed": 0}\'', "'{\"i'"],
    ids=["empty", "empty-object", "null", "list", "wrong-ids", "cut"],
)
def test_a_damaged_queue_snapshot_is_a_corrupt_ledger(
    tmp_path: Path, original: bytes, snapshot: str
) -> None:
    path = a_copy(original, tmp_path / "run.sqlite")
    # job 4 is an unanswered submission, old enough to be reconciled at the next poll
    _damage(path, f"UPDATE jobs SET snapshot = {snapshot}, updated_at = 0 WHERE seq = 4")
    with open_run(path) as run, pytest.raises(LedgerError) as info:
        run.ready()
    assert_corrupt(info.value, path)
    assert "snapshot" in str(info.value)


# -- columns -------------------------------------------------------------------------------

_TEXT = ("labels", "request", "info", "summary", "snapshot", "state", "token", "server", "note")
COLUMNS = [("jobs", name) for name in (*_TEXT, "created_at", "updated_at", "attempt")] + [
    ("observations", name) for name in ("data", "at", "event", "state")
]
BAD_VALUES = {
    "invalid-utf8": "CAST(X'7B2265FF6F6368223A20317D' AS TEXT)",
    "not-json": "'{\"epoch\": 1'",
    "null": "NULL",
    "blob": "X'00FF10'",
    "huge-number": "1e308 * 10",
    "negative": "-1e20",
}


@pytest.mark.parametrize("value", list(BAD_VALUES), ids=list(BAD_VALUES))
@pytest.mark.parametrize(("table", "column"), COLUMNS, ids=[f"{t}.{c}" for t, c in COLUMNS])
def test_a_damaged_column_is_read_or_a_corrupt_ledger(
    tmp_path: Path, original: bytes, table: str, column: str, value: str
) -> None:
    path = a_copy(original, tmp_path / "run.sqlite")
    _damage(path, f"UPDATE {table} SET {column} = {BAD_VALUES[value]} WHERE seq = 2")
    try:
        read_everything(path)
    except Exception as exc:  # anything raised must be a CorruptLedgerError
        assert_corrupt(exc, path)


# -- bytes ---------------------------------------------------------------------------------


def _flip(data: bytearray, rng: random.Random, start: int, end: int) -> int:
    offset = rng.randrange(start, end)
    data[offset] ^= rng.randrange(1, 256)
    return offset


def _value_spans(data: bytes) -> list[tuple[int, int]]:
    """Where the text values of the ledger's columns are in the file."""
    needles = [b"label-", b'{"model"', b'"job_id"', b'{"Qwen__', b'{"ids"', b"token-", b"restarted"]
    spans = []
    for needle in needles:
        at = data.find(needle)
        while at >= 0:
            spans.append((at, at + 24))
            at = data.find(needle, at + 1)
    return spans


# A damaged header can also read as another program's database, or a newer schema.
DAMAGE_ERRORS = (CorruptLedgerError, ForeignLedgerError, NewerLedgerError)


def test_bit_rot_is_read_or_a_corrupt_ledger(tmp_path: Path, original: bytes) -> None:
    """Seeded random damage, deterministic: bytes of the text columns, the file header
    and anywhere in the file; each is unnoticed (a label's digit) or a typed error of damage."""
    rng = random.Random(20)
    spans = _value_spans(original)
    assert len(spans) > 10
    outcomes: dict[str, int] = {}
    for trial in range(120):
        data = bytearray(original)
        where = ("text", "header", "anywhere")[trial % 3]
        if where == "text":
            start, end = spans[rng.randrange(len(spans))]
            offset = _flip(data, rng, start, end)
        elif where == "header":
            offset = _flip(data, rng, 16, 100)  # after the magic string: its fields
        else:
            offset = _flip(data, rng, 0, len(data))
        path = tmp_path / f"trial-{trial}.sqlite"
        path.write_bytes(bytes(data))
        try:
            read_everything(path)
        except Exception as exc:  # the assertion says what it was
            if not isinstance(exc, DAMAGE_ERRORS):
                raise AssertionError(f"trial {trial} ({where}, byte {offset}): {exc!r}") from exc
            assert exc.path == str(path)
            kind = type(exc).__name__
        else:
            kind = "unnoticed"
        outcomes[kind] = outcomes.get(kind, 0) + 1
        path.unlink()
    assert outcomes.get("CorruptLedgerError", 0) >= 40, outcomes


def test_garbage_beside_the_ledger_is_ignored_or_a_corrupt_ledger(
    tmp_path: Path, original: bytes
) -> None:
    path = a_copy(original, tmp_path / "run.sqlite")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").write_bytes(bytes(range(256)) * 200)
    try:
        read_everything(path)
    except Exception as exc:
        assert_corrupt(exc, path)
