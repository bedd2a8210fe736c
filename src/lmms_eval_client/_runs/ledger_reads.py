"""The ledger as a poll reads it: light rows of the columns a poll needs, not TrackedJobs.

A poll of a run with 10,000 pending jobs must cost what the jobs that *changed* cost, not
what the pending ones do: it reads four columns of each pending job (no request, labels,
info or queue snapshot to parse, no pydantic model to build), and a whole TrackedJob only
for a job the server's queue no longer shows. Reads go through ``Ledger.rows`` (one lock,
one rule of failures); ``poll_batch`` is the poll's use of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import LedgerError
from .ledger import Ledger
from .ledger_schema import JOBS, damaged, job_from_row, snapshot_from_text
from .servers import server_identity
from .states import FINISHED, SUBMITTING, UNSENT

if TYPE_CHECKING:
    from .._client.reconcile import QueueSnapshot
    from .outcomes import TrackedJob


@dataclass(frozen=True, slots=True)
class Watched:
    """A pending job as a poll reads it: one the server answered for, not yet finished."""

    seq: int
    job_id: str
    state: str
    server: str


class WatchedRows:
    """A poller's pending rows, read again only when the ledger changed since they were:
    an idle poll of 10,000 jobs then reads no row at all (one statement).

    Whether the ledger changed is its store's ``changes()`` (SQLite: this connection's
    changes and others' commits; PostgreSQL: a counter every write transaction moves),
    read before the rows: a write between the two reads makes the next poll read again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # (two polls of one run may overlap, in two threads)
        self._version: object = None
        self._rows: list[Watched] = []
        self._by_server: dict[str, list[Watched]] = {}

    def on(self, ledger: Ledger, server: str) -> list[Watched]:
        """The pending jobs with a job id on ``server`` (see ``watched_on``)."""
        with self._lock:
            version = ledger.store.changes()
            if version != self._version:
                self._rows = pending_rows(ledger)
                self._by_server = {}
                self._version = version
            if server not in self._by_server:
                self._by_server[server] = on_server(self._rows, server)
            return self._by_server[server]


def watched_on(ledger: Ledger, server: str) -> list[Watched]:
    """The pending jobs with a job id on ``server`` (under any spelling of its URL), in
    submission order (CorruptLedgerError for a row that cannot be read)."""
    return on_server(pending_rows(ledger), server)


def on_server(rows: list[Watched], server: str) -> list[Watched]:
    """Those of ``rows`` on ``server``, under any spelling of its URL."""
    identity = server_identity(server)
    mine: dict[str, bool] = {}  # by spelling: the few a ledger holds, each parsed once
    for row in rows:
        if row.server not in mine:
            where = row.server
            mine[where] = where == server or server_identity(where) == identity
    if all(mine.values()):
        return rows
    return [row for row in rows if mine[row.server]]


def pending_rows(ledger: Ledger) -> list[Watched]:
    """The pending jobs with a job id, in submission order."""
    marks = ",".join("?" * len(FINISHED))
    rows = ledger.rows(
        "SELECT seq, job_id, state, server FROM jobs "
        f"WHERE job_id NOTNULL AND state NOT IN ({marks}, ?) ORDER BY seq",
        [*sorted(FINISHED), UNSENT],
    )
    found = []
    for row in rows:
        seq, job_id, state, where = row["seq"], row["job_id"], row["state"], row["server"]
        if not (
            isinstance(seq, int)
            and isinstance(job_id, str)
            and isinstance(state, str)
            and isinstance(where, str)
        ):
            raise damaged(ledger.path, f"unreadable job row (seq {seq!r})")
        found.append(Watched(seq, job_id, state, where))
    return found


def submitting(ledger: Ledger) -> list[TrackedJob]:
    """The submissions not yet answered (few: those under way, or a killed process's), in
    submission order: what reconciliation settles."""
    rows = ledger.rows(f"{JOBS} WHERE state = ? ORDER BY seq", (SUBMITTING,))
    return [job_from_row(row, ledger.path) for row in rows]


def owner_and_snapshot(ledger: Ledger, seq: int) -> tuple[str | None, QueueSnapshot] | None:
    """Who recorded a submission's intent, and the queue seen before it was sent (kept
    while the job is ``submitting`` only); None once it is not (its process recorded
    the answer since the caller listed it: another process's submission, in flight)."""
    rows = ledger.rows("SELECT owner, snapshot, state FROM jobs WHERE seq = ?", (seq,))
    if not rows:
        raise LedgerError(f"The run ledger {ledger.path!r} has no job {seq}", path=ledger.path)
    if rows[0]["state"] != SUBMITTING:
        return None
    owner = rows[0]["owner"]
    if owner is not None and not isinstance(owner, str):
        raise damaged(ledger.path, f"unreadable owner of job {seq}: {owner!r}")
    return owner, snapshot_from_text(rows[0]["snapshot"], ledger.path, seq)


def pending_servers(ledger: Ledger) -> set[str]:
    """The servers (as spelled in the ledger) of the jobs submitting, queued or running:
    whether a run still waits for anything, without reading a job."""
    marks = ",".join("?" * len(FINISHED))
    rows = ledger.rows(
        f"SELECT DISTINCT server FROM jobs WHERE state NOT IN ({marks}, ?)",
        [*sorted(FINISHED), UNSENT],
    )
    return {str(row["server"]) for row in rows}
