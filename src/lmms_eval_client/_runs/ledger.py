"""The ledger of an evaluation run: the client's source of truth, in a SQLite file
(``sqlite_store``) or a PostgreSQL schema (``postgres``); the rules here are the same for
both (``ledger_store``).

- ``jobs`` holds one row per submission (its labels, the request sent, its last known
  state); ``observations`` is append-only (triggers refuse UPDATE and DELETE): every intent,
  answer, status change, final JobInfo and loss, with its time. No row is ever deleted.
- The intent is written before a submission is sent, the answer after: a process killed
  in between leaves a ``submitting`` row that a later run reconciles with the server by the
  ``/queue`` snapshot its intent keeps (deep in a queue, the one job ahead: see
  ``_client/reconcile``); the answer (or end) clears it (else the file grows quadratically).
- Each operation is one write transaction, excluding the ledger's other writers: a
  failure (disk full, read-only file, connection lost...) leaves nothing half recorded.
- Secret model_args are stored as fingerprints keyed by the ledger's own random key
  (``stored``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .._checks import check_seconds
from .._lazy import LazyModule
from .._secret_args import Fingerprints, secret_arg_words
from .._trackers.base import import_extra
from .errors import LedgerReadOnlyError, UnknownJobError
from .ledger_keys import claim_key, claim_retry
from .ledger_schema import JOBS, job_from_row, observation_from_row
from .ledger_store import LedgerConnection, LedgerStore
from .postgres.url import is_database_url
from .servers import same_server
from .sqlite_store import SqliteStore
from .states import FAILED, FINISHED, LOST, SUBMITTING, UNSENT

if TYPE_CHECKING:
    from lmms_eval_api.models import EvaluateRequest, JobInfo

    from . import table as _table
    from .outcomes import Observation, TrackedJob
else:  # pydantic's models load with the first job read (an evaluation run's import: not)
    _table = LazyModule("lmms_eval_client._runs.table")

DEFAULT_BUSY_TIMEOUT = 30.0


class Ledger:
    """An open ledger (created if missing): a SQLite file, or a schema of a PostgreSQL
    database given as ``postgresql://user@host/db?schema=NAME``. Thread-safe.

    Raises (from the constructor): CorruptLedgerError, ForeignLedgerError,
    NewerLedgerError, LedgerReadOnlyError, LedgerFullError, LedgerBusyError,
    NetworkFilesystemError, LedgerConnectionError, LedgerAuthError, LedgerError.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        secret_args: Iterable[str] | None = None,
        read_only: bool = False,
        allow_network_filesystem: bool = False,
    ) -> None:
        """``read_only``: an existing ledger, read without writing anything (see
        ledger_open); its writes raise LedgerReadOnlyError. ``allow_network_filesystem``:
        a SQLite file on NFS, SMB, Lustre... is used anyway (see ``filesystems``)."""
        words = secret_arg_words(secret_args)
        busy_timeout = check_seconds("busy_timeout", busy_timeout, zero=True)
        target = os.fspath(path)
        self.read_only = read_only
        self._store: LedgerStore
        if is_database_url(target):
            import_extra(
                "psycopg", feature="A ledger on PostgreSQL", extra="postgres", package="psycopg"
            )
            from .postgres.store import PostgresStore

            self._store = PostgresStore(target, busy_timeout=busy_timeout, read_only=read_only)
        else:
            self._store = SqliteStore(
                target,
                busy_timeout=busy_timeout,
                read_only=read_only,
                allow_network_filesystem=allow_network_filesystem,
            )
        # What messages name: the file, or the URL without its password.
        self.path = self._store.where
        self._target = target
        self.fingerprints = Fingerprints(self._store.fingerprint_key(), words)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._store.close()

    # -- transactions --------------------------------------------------------------------

    def transaction(self, doing: str) -> AbstractContextManager[LedgerConnection]:
        """One write transaction, excluding every other writer of the ledger; rolled back
        on any failure (LedgerReadOnlyError for a ledger opened read-only).

        With ``rows``, ``observe`` and ``stored``, the package's other ledger modules
        (keys, claims, servers) write through it: one rule of transactions."""
        if self.read_only:
            raise LedgerReadOnlyError(
                f"The run ledger {self.path!r} was opened read-only: nothing is written "
                f"(while {doing}).",
                path=self.path,
            )
        return self._store.transaction(doing)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A query's rows, as dicts by column name."""
        return self._store.rows(sql, params)

    @property
    def target(self) -> str:
        """The ledger as given: a file, or a URL with its password (to reopen it; never
        shown: messages name ``path``)."""
        return self._target

    @property
    def store(self) -> LedgerStore:
        """Where the rows live (SQLite or PostgreSQL): what differs between the two."""
        return self._store

    def stored(self, data: Any) -> str:
        """JSON as written: every request (and JobInfo) passes here, secrets fingerprinted."""
        return json.dumps(self.fingerprints.seal(data))

    def observe(
        self, conn: LedgerConnection, seq: int, now: float, event: str, state: str, data: Any
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
        With a ``key``, KeyTaken (nothing written) when a job already holds it; with
        ``retry_of``, KeyTaken (its seq; nothing written) when it was retried already."""
        now = time.time()
        attempt = 1 if retry_of is None else retry_of.attempt + 1
        first = None if retry_of is None else retry_of.first_seq
        with self.transaction("recording a submission") as conn:
            cursor = conn.execute(
                "INSERT INTO jobs (token, state, labels, request, server, attempt, first_seq, "
                "retry_of, owner, snapshot, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                (
                    token, SUBMITTING, json.dumps(dict(labels)), self.stored(request.to_dict()),
                    server, attempt, first, None if retry_of is None else retry_of.seq, owner,
                    json.dumps(dict(snapshot)), now, now,
                ),
            )  # fmt: skip
            seq = int(cursor.fetchone()[0])
            data = {"token": token, "request": request.to_dict(), "labels": dict(labels)}
            if key is not None:
                claim_key(self, conn, key, seq, now)
                data["key"] = key
            self.observe(conn, seq, now, "intent", SUBMITTING, data)
            if retry_of is not None:
                claim_retry(conn, retry_of, seq, now)
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

    def record_answer(
        self, seq: int, job_id: str, state: str, event: str, data: Any, *, settling: bool = False
    ) -> TrackedJob:
        """The server's job id for a submission: its answer, or the job reconciliation found.

        A job already tracked by another submission (one that adopted it, its request the
        same, while this answer waited to be written) stays with that one, tracked once:
        this submission is recorded ``lost``, its note naming the other's seq. ``settling``:
        a reconciliation's verdict, written only while the submission is ``submitting``."""
        with self.transaction("recording the server's answer") as conn:
            if not (settling and self._settled(conn, seq)):
                self._answer(conn, seq, job_id, state, event, data, time.time())
        return self.job(seq)

    def _settled(self, conn: LedgerConnection, seq: int) -> bool:
        """Whether a submission left ``submitting`` (a later settler's verdict, taken before
        the first's was written, would undo it: the adopted job "proven absent", resent)."""
        row = conn.execute("SELECT state FROM jobs WHERE seq = ?", (seq,)).fetchone()
        return row is None or row[0] != SUBMITTING

    def _answer(
        self, conn: LedgerConnection, seq: int, job_id: str, state: str, event: str, data: Any,
        now: float,
    ) -> None:  # fmt: skip
        holder = conn.execute(
            "SELECT seq FROM jobs WHERE job_id = ? AND seq <> ? "
            "AND server = (SELECT server FROM jobs WHERE seq = ?)",
            (job_id, seq, seq),
        ).fetchone()
        if holder is not None:
            note = (
                f"its job {job_id} is tracked as seq {holder[0]}, a submission of the same "
                "request that adopted it before this answer was recorded"
            )
            self._end(conn, seq, LOST, note, "held", now, {"note": note, "answer": data})
        else:
            conn.execute(
                "UPDATE jobs SET job_id = ?, state = ?, snapshot = NULL, updated_at = ? "
                "WHERE seq = ?",
                (job_id, state, now, seq),
            )
            self.observe(conn, seq, now, event, state, data)

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

    def record_never_sent(self, token: str, note: str) -> None:
        """A submission whose intent's write raised before anything was sent: recorded
        ``unsent`` if that write committed all the same (a connection lost while
        committing) and it is still ``submitting``; nothing when it did not commit."""
        now = time.time()
        with self.transaction("recording a submission as unsent") as conn:
            row = conn.execute(
                "SELECT seq FROM jobs WHERE token = ? AND state = ?", (token, SUBMITTING)
            ).fetchone()
            if row is not None:
                self._end(conn, int(row[0]), UNSENT, note, "unsent", now)

    def record_end(
        self, seq: int, state: str, note: str, event: str, *, settling: bool = False
    ) -> TrackedJob:
        """A job marked lost, or a submission found unsent; ``note`` says why; ``settling``:
        a reconciliation's verdict, written only while the submission is ``submitting``."""
        with self.transaction(f"recording a job as {state}") as conn:
            if not (settling and self._settled(conn, seq)):
                self._end(conn, seq, state, note, event, time.time())
        return self.job(seq)

    def _end(
        self,
        conn: LedgerConnection,
        seq: int,
        state: str,
        note: str,
        event: str,
        now: float,
        data: Any = None,
    ) -> None:
        conn.execute(
            "UPDATE jobs SET last_known_state = state, state = ?, note = ?, snapshot = NULL, "
            "updated_at = ? WHERE seq = ?",
            (state, note.replace("\x00", "\ufffd"), now, seq),  # a server's text: no NUL in PG
        )
        self.observe(conn, seq, now, event, state, {"note": note} if data is None else data)
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

    def mark_harvested(self, seqs: Sequence[int]) -> set[int]:
        """Claim finished jobs for the caller: the seqs this call marked (one transaction:
        of processes harvesting one ledger, each job goes to the one that changed its row)."""
        now = time.time()
        sql = "UPDATE jobs SET harvested_at = ? WHERE harvested_at IS NULL AND retried_by IS NULL"
        return set(self.mark_each("recording a harvest", seqs, sql, (now,), now, "harvested"))

    def mark_each(
        self, what: str, seqs: Sequence[int], update: str, args: tuple[Any, ...], now: float,
        event: str, data: Mapping[str, Any] | None = None,
    ) -> list[int]:  # fmt: skip
        """One transaction: ``update`` (of jobs, ending in WHERE conditions) of each seq with
        ``(*args, seq)``, ``event`` in each changed job's history; the seqs changed, in order."""
        if not seqs:
            return []
        changed: list[int] = []
        sql = f"{update} AND seq = ? RETURNING state"
        with self.transaction(what) as conn:
            for seq in seqs:
                if (state := conn.execute(sql, (*args, seq)).fetchone()) is not None:
                    self.observe(conn, seq, now, event, state[0], data)
                    changed.append(seq)
        return changed

    def record_summary(
        self,
        seq: int,
        summary: Mapping[str, Any],
        metrics: Sequence[Mapping[str, Any]] | None = None,
    ) -> TrackedJob:
        """Attach a results summary to a job (the results reader's hook), with its metric
        rows when they were read with it (None: the table derives them from the summary)."""
        now = time.time()
        rows = None if metrics is None else _table.stored_metrics(metrics)
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
        # a seq is an int64 in both stores: a larger one is no job (not a driver's OverflowError)
        rows = self.rows(f"{JOBS} WHERE seq = ?", (seq,)) if -(2**63) <= seq < 2**63 else []
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

    def history(self, seq: int) -> list[Observation]:
        """Everything recorded about one job, oldest first."""
        rows = self.rows(
            "SELECT seq, at, event, state, data FROM observations WHERE seq = ? ORDER BY id",
            (seq,),
        )
        return [observation_from_row(row, self.path) for row in rows]
