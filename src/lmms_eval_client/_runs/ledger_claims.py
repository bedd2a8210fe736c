"""At-least-once delivery in the ledger: claims on finished outcomes, acknowledgements.

An outcome handed out by ``receive()`` is *claimed*: ``claimed_by`` names the run object
that has it (``options.new_owner()``: ``host:pid:random``) and ``claimed_at`` when. It is
*taken* only when acknowledged (``harvested_at``, the column ``harvest()`` sets). A claim
holds against every other claimer, and the claimer itself, until it is acknowledged or
released, its process is known dead (same host), or it is older than the claimer's lease:
then the outcome is handed out again. Each function is one write transaction
(``Ledger.transaction``), so two processes never hold the same claim.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .._exceptions import InvalidArgumentError
from .ledger import Ledger
from .options import owner_is_gone
from .states import FINISHED

_FINISHED = tuple(sorted(FINISHED))
_IS_FINISHED = f"state IN ({','.join('?' * len(_FINISHED))})"


def _expired(claimed_by: str | None, claimed_at: float | None, now: float, lease: float) -> bool:
    """Whether a claim no longer holds: none, its process gone, or older than the lease."""
    if claimed_by is None or claimed_at is None:
        return True
    return now - claimed_at > lease or owner_is_gone(claimed_by)


def claim(ledger: Ledger, seqs: Sequence[int], owner: str, lease: float) -> list[int]:
    """Claim for ``owner`` those of ``seqs`` that are finished, unacknowledged final
    attempts with no claim in force; the seqs claimed, in the order given."""
    claimed: list[int] = []
    if not seqs:
        return claimed
    now = time.time()
    with ledger.transaction("claiming outcomes") as conn:
        for seq in seqs:
            row = conn.execute(
                "SELECT state, claimed_by, claimed_at FROM jobs WHERE seq = ? AND "
                f"harvested_at IS NULL AND retried_by IS NULL AND {_IS_FINISHED}",
                (seq, *_FINISHED),
            ).fetchone()
            if row is None or not _expired(row[1], row[2], now, lease):
                continue
            conn.execute(
                "UPDATE jobs SET claimed_by = ?, claimed_at = ? WHERE seq = ?", (owner, now, seq)
            )
            data = {"by": owner} if row[1] is None else {"by": owner, "from": row[1]}
            ledger.observe(conn, seq, now, "claimed", row[0], data)
            claimed.append(seq)
    return claimed


def acknowledge(ledger: Ledger, seqs: Sequence[int], owner: str) -> list[int]:
    """Mark finished jobs taken (``harvested_at``): the seqs this call marked.

    A job already taken is left as it is (acknowledging twice is harmless). A job that is
    not finished raises InvalidArgumentError and nothing is marked."""
    marked: list[int] = []
    now = time.time()
    with ledger.transaction("acknowledging outcomes") as conn:
        for seq in seqs:
            row = conn.execute(
                "SELECT state, harvested_at, claimed_by FROM jobs WHERE seq = ?", (seq,)
            ).fetchone()
            if row is None:
                raise InvalidArgumentError(f"The run ledger {ledger.path!r} has no job {seq}")
            if row[0] not in FINISHED:
                raise InvalidArgumentError(
                    f"Job seq {seq} is {row[0]}: only a finished job's outcome can be "
                    "acknowledged (receive() hands those out)"
                )
            if row[1] is not None:
                continue
            conn.execute("UPDATE jobs SET harvested_at = ? WHERE seq = ?", (now, seq))
            data = {"by": owner, "claimed_by": row[2]}
            ledger.observe(conn, seq, now, "acknowledged", row[0], data)
            marked.append(seq)
    return marked


def release(ledger: Ledger, seqs: Sequence[int], owner: str) -> list[int]:
    """Drop ``owner``'s claims on unacknowledged jobs (handed out again at once): the
    seqs released. Claims of others, and acknowledged jobs, are left as they are."""
    sql = "UPDATE jobs SET claimed_by = NULL, claimed_at = NULL "
    sql += "WHERE claimed_by = ? AND harvested_at IS NULL"
    now, data = time.time(), {"by": owner}
    return ledger.mark_each("releasing claims", seqs, sql, (owner,), now, "released", data)
