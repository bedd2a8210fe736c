"""The states of a run's job, as the ledger stores them.

Server statuses are kept as the server names them (a status a newer server adds is stored
as it is and counts as pending). Apart from ``outcomes.py`` (whose models need pydantic and
the generated models) so that importing an evaluation run loads neither.
"""

from __future__ import annotations

SUBMITTING = "submitting"  # intent recorded; the server's answer is not known yet
QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
LOST = "lost"  # the server no longer knows the job, or its submission could not be resolved
UNSENT = "unsent"  # the submission provably never reached the server: there is no job
FINISHED = frozenset({COMPLETED, FAILED, CANCELLED, LOST})
TERMINAL = FINISHED | {UNSENT}
