"""Submission keys (not the ``ledger_keys`` table, which holds the fingerprint key):
``submit(..., key="step-100")`` names a submission, so that submitting under the same key
again returns the job already tracked instead of sending another.

The key is written in the transaction of the submission's intent, before anything is
sent (``Ledger.record_intent(key=...)``), on the first attempt only (``jobs.submission_key``,
unique: retries by policy carry none; their TrackedJob.key is read from the first
attempt). Of two processes submitting one key at once, the unique index lets one
intent in; the other's transaction finds the winner's job (``KeyTaken``) and sends nothing.

One exception: a job recorded ``unsent`` provably never reached the server, so a new
submission under its key is sent, and the key passes to it (an observation
``key-passed`` on the unsent job records where it went).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import InvalidArgumentError
from .errors import UnknownJobError
from .states import UNSENT

if TYPE_CHECKING:
    from .ledger import Ledger
    from .ledger_store import LedgerConnection
    from .outcomes import TrackedJob

MAX_KEY_LENGTH = 256
KEY_PASSED = "key-passed"  # the observation of an unsent job whose key went to a later one


class KeyTaken(Exception):
    """Raised in an intent's transaction (which then writes nothing): a job already holds
    the key. Never leaves the package: ``submit`` returns that job."""

    def __init__(self, seq: int) -> None:
        super().__init__(seq)
        self.seq = seq


def check_key(key: object) -> str | None:
    """A submission key as given (None: no key); InvalidArgumentError unless it is a
    non-empty printable str of at most MAX_KEY_LENGTH characters, without spaces at either
    end (``"step-1 "`` would name a submission other than ``"step-1"``, and ``" "`` none)."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise InvalidArgumentError(f"key must be a str, got {type(key).__name__}")
    shown = f"{key[:40]!r}{'...' if len(key) > 40 else ''} ({len(key)} characters)"
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidArgumentError(
            f"key must be 1 to {MAX_KEY_LENGTH} printable characters (e.g. 'step-100'), got {shown}"
        )
    if key != key.strip():
        raise InvalidArgumentError(
            f"key must not start or end with spaces (it would name a submission other than "
            f"{key.strip()[:40]!r}), got {shown}"
            if key.strip()
            else f"key must name a submission (e.g. 'step-100'), not spaces only: got {shown}"
        )
    return key


def claim_retry(conn: LedgerConnection, retried: TrackedJob, seq: int, now: float) -> None:
    """In the transaction that records job ``seq``'s intent: mark attempt ``retried`` as
    retried by it, only if it is as the retrying run read it: not retried, not handed out
    (harvested, or claimed by a ``receive``), its state the same. Else KeyTaken (its intent
    rolled back, not sent): another process retried it first, handed it to its caller, or
    recovered its results complete."""
    claimed = conn.execute(
        "UPDATE jobs SET retried_by = ?, updated_at = ? WHERE seq = ? AND retried_by IS NULL "
        "AND harvested_at IS NULL AND claimed_by IS NULL AND state = ?",
        (seq, now, retried.seq, retried.state),
    )
    if not claimed.rowcount:
        raise KeyTaken(retried.seq)


def claim_key(ledger: Ledger, conn: LedgerConnection, key: str, seq: int, now: float) -> None:
    """In the transaction that records job ``seq``'s intent: give it ``key``. KeyTaken when
    another job holds the key, unless that job is ``unsent`` (then the key passes on).

    Read, then written: the transaction excludes the ledger's other writers, so no one
    takes the key in between (and the unique index stands behind it)."""
    holder = conn.execute("SELECT seq, state FROM jobs WHERE submission_key = ?", (key,)).fetchone()
    if holder is None:
        conn.execute("UPDATE jobs SET submission_key = ? WHERE seq = ?", (key, seq))
        return
    if holder[1] != UNSENT:
        raise KeyTaken(int(holder[0]))
    conn.execute(
        "UPDATE jobs SET submission_key = NULL, updated_at = ? WHERE seq = ?", (now, holder[0])
    )
    ledger.observe(conn, int(holder[0]), now, KEY_PASSED, UNSENT, {"key": key, "to": seq})
    conn.execute("UPDATE jobs SET submission_key = ? WHERE seq = ?", (key, seq))


def keys_passed_on(ledger: Ledger) -> set[int]:
    """The seqs of the jobs recorded ``unsent`` whose key a later submission took: sent
    again, under that key (their rows keep no key). One query."""
    sql = "SELECT DISTINCT seq FROM observations WHERE event = ?"
    return {int(row["seq"]) for row in ledger.rows(sql, (KEY_PASSED,))}


def latest_attempt(ledger: Ledger, seq: int) -> TrackedJob:
    """Job ``seq``, or the retry by policy that replaced it, and so on to the last attempt."""
    job = ledger.job(seq)
    while job.retried_by is not None:
        job = ledger.job(job.retried_by)
    return job


def job_under_key(ledger: Ledger, key: str) -> TrackedJob | None:
    """The last attempt of the submission made under ``key``, if there is one."""
    rows = ledger.rows("SELECT seq FROM jobs WHERE submission_key = ?", (key,))
    return latest_attempt(ledger, int(rows[0]["seq"])) if rows else None


def job_by_seq_or_key(ledger: Ledger, which: int | str) -> TrackedJob:
    """``run.job(...)``: the job of a seq as recorded, or the last attempt under a key; a
    str of ASCII digits under which no job was submitted names its seq (the command line's
    arguments are text: a key of digits, ``--key 100``, is found first)."""
    if not isinstance(which, str) and (isinstance(which, bool) or not isinstance(which, int)):
        raise InvalidArgumentError(
            f"a job is named by its seq (an int) or its key (a str), not {which!r}"
        )
    if isinstance(which, str):
        key = check_key(which)
        job = None if key is None else job_under_key(ledger, key)
        if job is None and which.isascii() and which.isdigit():
            return ledger.job(int(which))
        if job is None:
            raise UnknownJobError(
                f"The run ledger {ledger.path!r} tracks no job under the key {which!r}: "
                "nothing was submitted with submit(..., key=...) under it.",
                path=ledger.path,
                key=which,
            )
        return job
    return ledger.job(which)
