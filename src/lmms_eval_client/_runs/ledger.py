"""The ledger of an evaluation run: one SQLite file, the client's source of truth.

- ``jobs`` holds one row per submission (its labels, the request sent, its last known
  state); ``observations`` is append-only (triggers refuse UPDATE and DELETE): every intent,
  answer, status change, final JobInfo and loss, with its time. No row is ever deleted.
- The intent is written before a submission is sent, the answer after: a process killed
  in between leaves a ``submitting`` row that a later run reconciles with the server, by
  the ``/queue`` snapshot its intent keeps; the answer (or end) clears it: a snapshot is
  the whole queue, and kept in every row it grew with the square of the jobs.
- WAL journal, ``synchronous=FULL`` (a committed write survives a power cut), a busy
  timeout and ``BEGIN IMMEDIATE`` for every write: two processes on one file (a trainer and
  a notebook) take turns instead of failing. Each operation is one transaction: a failure
  (disk full, read-only file...) leaves nothing half recorded.
- ``PRAGMA application_id`` marks the file as a ledger, ``PRAGMA user_version`` is its
  schema version; an older schema is migrated in one transaction, a newer one is refused.
  Every SQLite failure becomes a :class:`LedgerError` subclass.
- Secret model_args are stored as fingerprints keyed by the ledger's own random key
  (``stored``); a new ledger file is created 0600 (its -wal and -shm take its mode).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from lmms_eval_api.models import EvaluateRequest, JobInfo

from .._client.reconcile import QueueSnapshot
from .._secret_args import Fingerprints, secret_arg_words
from .errors import LedgerError, LedgerReadOnlyError, UnknownJobError
from .ledger_keys import claim_key
from .ledger_open import check_integrity, check_place, check_schema, connect, open_read_only
from .ledger_schema import (
    APPLICATION_ID,
    JOBS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SQLITE_FAILURES,
    add_fingerprint_key,
    check_references,
    create_private,
    damaged,
    fingerprint_key,
    job_from_row,
    ledger_error,
    observation_from_row,
    schema_statements,
    snapshot_from_text,
)
from .outcomes import FAILED, FINISHED, SUBMITTING, UNSENT, Observation, TrackedJob
from .servers import same_server
from .table import stored_metrics

DEFAULT_BUSY_TIMEOUT = 30.0


class Ledger:
    """An open ledger file (created if missing). Thread-safe; one connection.

    Raises (from the constructor): CorruptLedgerError, ForeignLedgerError,
    NewerLedgerError, LedgerReadOnlyError, LedgerFullError, LedgerBusyError, LedgerError.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        secret_args: Iterable[str] | None = None,
        read_only: bool = False,
    ) -> None:
        """``read_only``: an existing ledger, read without writing anything (see
        ledger_open); its writes raise LedgerReadOnlyError."""
        words = secret_arg_words(secret_args)
        self.path = os.fspath(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        check_place(self.path, read_only=read_only)
        if not read_only:
            create_private(self.path)  # before SQLite creates it (and -wal, -shm like it)
        self._conn = connect(self.path, busy_timeout, read_only=read_only)
        try:
            if read_only:
                self._conn = open_read_only(self._conn, self.path, SCHEMA_VERSION, MIGRATIONS)
            else:
                self._prepare()  # foreign keys off until then: a migration may rebuild a table
                self._conn.execute("PRAGMA foreign_keys = ON")
            self.fingerprints = Fingerprints(fingerprint_key(self._conn, self.path), words)
        except BaseException:
            self._conn.close()
            raise

    def _prepare(self) -> None:
        """Check the file is a ledger of a schema this version reads; create or migrate it."""
        try:
            self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
            check_integrity(self._conn, self.path)
        except SQLITE_FAILURES as exc:
            raise ledger_error(exc, self.path, "opening it") from exc
        with self.transaction("opening it") as conn:  # BEGIN IMMEDIATE: also proves it is writable
            version = check_schema(conn, self.path, SCHEMA_VERSION, MIGRATIONS)
            for statement in schema_statements(version):
                conn.execute(statement)
            add_fingerprint_key(conn, version)
            if version < SCHEMA_VERSION:
                check_references(conn, self.path)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back on any failure.

        With ``rows``, ``observe`` and ``stored``, the package's other ledger modules
        (keys, claims, servers) write through it: one rule of transactions."""
        if self.read_only:
            raise LedgerReadOnlyError(
                f"The run ledger {self.path!r} was opened read-only: nothing is written "
                f"(while {doing}).",
                path=self.path,
            )
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except SQLITE_FAILURES as exc:
                raise ledger_error(exc, self.path, doing) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    # (SQLite may have rolled back already, e.g. after SQLITE_FULL)
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, SQLITE_FAILURES):
                    raise ledger_error(exc, self.path, doing) from exc
                raise

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cursor = self._conn.execute(sql, params)
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except SQLITE_FAILURES as exc:
                raise ledger_error(exc, self.path, "reading it") from exc

    def stored(self, data: Any) -> str:
        """JSON as written: every request (and JobInfo) passes here, secrets fingerprinted."""
        return json.dumps(self.fingerprints.seal(data))

    def observe(
        self, conn: sqlite3.Connection, seq: int, now: float, event: str, state: str, data: Any
    ) -> None:
        conn.execute(
            "INSERT INTO observations (seq, at, event, state, data) VALUES (?, ?, ?, ?, ?)",
            (seq, now, event, state, None if data is None else self.stored(data)),
        )

    # -- writes --------------------------------------------------------------------------

    def record_intent(
        self,
        *,
        token: str,
        labels: Mapping[str, Any],
        request: EvaluateRequest,
        server: str,
        owner: str,
        snapshot: Mapping[str, Any],
        retry_of: TrackedJob | None = None,
        key: str | None = None,
    ) -> TrackedJob:
        """Record a submission about to be sent (before sending it); its TrackedJob.
        With a ``key``, KeyTaken (nothing written) when a job already holds it."""
        now = time.time()
        attempt = 1 if retry_of is None else retry_of.attempt + 1
        first = None if retry_of is None else retry_of.first_seq
        with self.transaction("recording a submission") as conn:
            cursor = conn.execute(
                "INSERT INTO jobs (token, state, labels, request, server, attempt, first_seq, "
                "retry_of, owner, snapshot, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token, SUBMITTING, json.dumps(dict(labels)), self.stored(request.to_dict()),
                    server, attempt, first, None if retry_of is None else retry_of.seq, owner,
                    json.dumps(dict(snapshot)), now, now,
                ),
            )  # fmt: skip
            seq = int(cursor.lastrowid or 0)
            data = {"token": token, "request": request.to_dict(), "labels": dict(labels)}
            if key is not None:
                claim_key(self, conn, key, seq, now)
                data["key"] = key
            self.observe(conn, seq, now, "intent", SUBMITTING, data)
            if retry_of is not None:
                conn.execute(
                    "UPDATE jobs SET retried_by = ?, updated_at = ? WHERE seq = ?",
                    (seq, now, retry_of.seq),
                )
                self.observe(conn, retry_of.seq, now, "retry", retry_of.state, {"by": seq})
        return self.job(seq)

    def record_resend(self, seq: int, snapshot: Mapping[str, Any], sends: int) -> None:
        """A submission proven absent on the server, about to be sent again."""
        now = time.time()
        with self.transaction("recording a new send") as conn:
            conn.execute(
                "UPDATE jobs SET snapshot = ?, updated_at = ? WHERE seq = ?",
                (json.dumps(dict(snapshot)), now, seq),
            )
            self.observe(conn, seq, now, "resend", SUBMITTING, {"sends_before": sends})

    def record_answer(self, seq: int, job_id: str, state: str, event: str, data: Any) -> TrackedJob:
        """The server's job id for a submission: its answer, or the job reconciliation found."""
        now = time.time()
        with self.transaction("recording the server's answer") as conn:
            conn.execute(
                "UPDATE jobs SET job_id = ?, state = ?, snapshot = NULL, updated_at = ? "
                "WHERE seq = ?",
                (job_id, state, now, seq),
            )
            self.observe(conn, seq, now, event, state, data)
        return self.job(seq)

    def record_status(self, seq: int, state: str, info: JobInfo | None) -> TrackedJob:
        """A status seen on the server (with the JobInfo when it was read)."""
        now = time.time()
        info_json = None if info is None else self.stored(info.model_dump(mode="json"))
        with self.transaction("recording a job's status") as conn:
            if info_json is None:
                conn.execute(
                    "UPDATE jobs SET state = ?, updated_at = ? WHERE seq = ?", (state, now, seq)
                )
            else:
                conn.execute(
                    "UPDATE jobs SET state = ?, info = ?, updated_at = ? WHERE seq = ?",
                    (state, info_json, now, seq),
                )
            data = None if info is None else info.model_dump(mode="json")
            self.observe(conn, seq, now, "status", state, data)
        return self.job(seq)

    def record_end(self, seq: int, state: str, note: str, event: str) -> TrackedJob:
        """A job marked lost, or a submission found unsent; ``note`` says why."""
        now = time.time()
        with self.transaction(f"recording a job as {state}") as conn:
            conn.execute(
                "UPDATE jobs SET last_known_state = state, state = ?, note = ?, snapshot = NULL, "
                "updated_at = ? WHERE seq = ?",
                (state, note, now, seq),
            )
            self.observe(conn, seq, now, event, state, {"note": note})
            if state == UNSENT:
                # A retry that never reached the server does not replace the failed attempt:
                # that one is due for a retry again.
                row = conn.execute("SELECT retry_of FROM jobs WHERE seq = ?", (seq,)).fetchone()
                if row is not None and row[0] is not None:
                    conn.execute(
                        "UPDATE jobs SET retried_by = NULL, updated_at = ? "
                        "WHERE seq = ? AND retried_by = ?",
                        (now, row[0], seq),
                    )
                    self.observe(conn, row[0], now, "retry-unsent", FAILED, {"by": seq})
        return self.job(seq)

    def mark_harvested(self, seqs: Sequence[int]) -> set[int]:
        """Claim finished jobs for the caller: the seqs this call marked (one transaction:
        of processes harvesting one ledger, each job goes to the one that changed its row)."""
        claimed: set[int] = set()
        if not seqs:
            return claimed
        now = time.time()
        with self.transaction("recording a harvest") as conn:
            for seq in seqs:
                updated = conn.execute(
                    "UPDATE jobs SET harvested_at = ? "
                    "WHERE seq = ? AND harvested_at IS NULL AND retried_by IS NULL",
                    (now, seq),
                )
                if updated.rowcount:
                    claimed.add(seq)
                    state = conn.execute("SELECT state FROM jobs WHERE seq = ?", (seq,))
                    self.observe(conn, seq, now, "harvested", state.fetchone()[0], None)
        return claimed

    def record_summary(
        self,
        seq: int,
        summary: Mapping[str, Any],
        metrics: Sequence[Mapping[str, Any]] | None = None,
    ) -> TrackedJob:
        """Attach a results summary to a job (the results reader's hook), with its metric
        rows when they were read with it (None: the table derives them from the summary)."""
        now = time.time()
        rows = None if metrics is None else stored_metrics(metrics)
        with self.transaction("recording a results summary") as conn:
            conn.execute(
                "UPDATE jobs SET summary = ?, metrics = ?, updated_at = ? WHERE seq = ?",
                (json.dumps(dict(summary)), rows, now, seq),
            )
            state = conn.execute("SELECT state FROM jobs WHERE seq = ?", (seq,)).fetchone()[0]
            self.observe(conn, seq, now, "summary", state, dict(summary))
        return self.job(seq)

    # -- reads ---------------------------------------------------------------------------

    def job(self, seq: int) -> TrackedJob:
        """The job of this seq (LedgerError if there is none)."""
        rows = self.rows(f"{JOBS} WHERE seq = ?", (seq,))
        if not rows:
            raise UnknownJobError(
                f"The run ledger {self.path!r} has no job {seq}", path=self.path, seq=seq
            )
        return job_from_row(rows[0], self.path)

    def jobs(self) -> list[TrackedJob]:
        """Every job, in submission order."""
        return [job_from_row(row, self.path) for row in self.rows(f"{JOBS} ORDER BY seq")]

    def unfinished(self) -> list[TrackedJob]:
        """Jobs that are submitting, queued, running or in a status this version does not know."""
        marks = ",".join("?" * len(FINISHED))
        rows = self.rows(
            f"{JOBS} WHERE state NOT IN ({marks}, ?) ORDER BY seq",
            [*sorted(FINISHED), UNSENT],
        )
        return [job_from_row(row, self.path) for row in rows]

    def unharvested(self) -> list[TrackedJob]:
        """Finished final attempts not yet handed to the caller, in the order they ended."""
        marks = ",".join("?" * len(FINISHED))
        rows = self.rows(
            f"{JOBS} WHERE state IN ({marks}) AND harvested_at IS NULL "
            "AND retried_by IS NULL ORDER BY updated_at, seq",
            sorted(FINISHED),
        )
        return [job_from_row(row, self.path) for row in rows]

    def known_job_ids(self, server: str) -> set[str]:
        """The job ids the ledger holds on ``server``, under any spelling of its URL (two
        servers may issue the same)."""
        rows = self.rows("SELECT server, job_id FROM jobs WHERE job_id NOTNULL")
        return {str(row["job_id"]) for row in rows if same_server(str(row["server"]), server)}

    def owner_and_snapshot(self, seq: int) -> tuple[str | None, QueueSnapshot]:
        """Who recorded a submission's intent, and the queue seen before it was sent (kept
        while the job is ``submitting`` only: an answered row has none)."""
        rows = self.rows("SELECT owner, snapshot FROM jobs WHERE seq = ?", (seq,))
        if not rows:
            raise LedgerError(f"The run ledger {self.path!r} has no job {seq}", path=self.path)
        owner = rows[0]["owner"]
        if owner is not None and not isinstance(owner, str):
            raise damaged(self.path, f"unreadable owner of job {seq}: {owner!r}")
        return owner, snapshot_from_text(rows[0]["snapshot"], self.path, seq)

    def history(self, seq: int) -> list[Observation]:
        """Everything recorded about one job, oldest first."""
        rows = self.rows(
            "SELECT seq, at, event, state, data FROM observations WHERE seq = ? ORDER BY id",
            (seq,),
        )
        return [observation_from_row(row, self.path) for row in rows]
