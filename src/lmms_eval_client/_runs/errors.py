"""The errors of evaluation runs: the ledger file, submissions, lost jobs.

::

    LmmsEvalError
    ├── LedgerError                   the ledger file could not be used (``.path``)
    │   ├── CorruptLedgerError        not a SQLite database, a damaged one, or no file
    │   ├── ForeignLedgerError        a SQLite database of another program
    │   ├── NewerLedgerError          written by a newer lmms-eval-client (schema version)
    │   ├── LedgerReadOnlyError       the file, its folder or its file system is not writable
    │   ├── LedgerFullError           the disk (or the ledger's size limit) is full
    │   └── LedgerBusyError           another process kept the ledger locked too long
    ├── SubmissionUnresolvedError     a lost submission's fate cannot be decided
    ├── RunTimeoutError               (also TimeoutError) as_completed's timeout passed
    └── JobLostError                  (also RuntimeError) a run's job the server forgot

Every write to the ledger is one transaction: when one of these is raised, nothing of the
failed operation was recorded. A ``LedgerError`` with a ``job_id`` came after the server had
accepted that job: the job exists, and the run records it later (see ``answer_not_recorded``).
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from .._exceptions import LmmsEvalError

E = TypeVar("E", bound="LedgerError")


class LedgerError(LmmsEvalError):
    """The ledger file of an evaluation run could not be opened, read or written.

    Attributes:
        path: The ledger file.
        job_id: Set when the failure came after the server accepted a job (``submit``):
            that job's id. The job exists; the run keeps its answer and records it at its
            next poll. Do not submit it again. None otherwise.
        server: The base URL of the server that holds that job (None without ``job_id``).
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str = "",
        job_id: str | None = None,
        server: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path: str = path
        self.job_id: str | None = job_id
        self.server: str | None = server


class CorruptLedgerError(LedgerError):
    """The file is not a SQLite database, SQLite found it damaged, or a record in it cannot
    be read; also a path that is no file (a directory, a FIFO, a symbolic link loop)."""


class ForeignLedgerError(LedgerError):
    """The file is a SQLite database, but not a ledger of lmms-eval-client."""


class NewerLedgerError(LedgerError):
    """The ledger was written by a newer lmms-eval-client (a schema this version lacks).

    Attributes:
        found: The ledger's schema version.
        supported: The newest schema version this lmms-eval-client reads.
    """

    def __init__(
        self, message: str = "", *, path: str = "", found: int = 0, supported: int = 0
    ) -> None:
        super().__init__(message, path=path)
        self.found: int = found
        self.supported: int = supported


class LedgerReadOnlyError(LedgerError):
    """The ledger cannot be written: the file, its folder or its file system is read-only,
    or permissions forbid it (SQLite also writes ``-wal`` and ``-shm`` files beside it)."""


class LedgerFullError(LedgerError):
    """The disk holding the ledger is full (or the ledger reached its size limit)."""


class LedgerBusyError(LedgerError):
    """Another process kept the ledger locked for longer than the busy timeout."""


class SubmissionUnresolvedError(LmmsEvalError):
    """The answer to a job submission was lost and the server cannot tell whether it holds
    the job, so it was not sent again (that could run it twice).

    The server lists only queued and running jobs; a job that was created and also finished
    before it could be looked for cannot be found by its request. See
    ``AsyncEvalClient.submit_exactly_once`` for when that can happen.

    Attributes:
        token: The submission's token (in its ``output_dir`` when one was assigned).
        output_dir: The output_dir sent, if any: the job's results would be there.
        reason: Why it could not be decided.
        final: True when asking again cannot tell more (the job may have run and finished);
            False when the server could not be asked (an evaluation run asks again later).
    """

    def __init__(
        self,
        message: str = "",
        *,
        token: str = "",
        output_dir: str | None = None,
        reason: str = "",
        final: bool = True,
    ) -> None:
        super().__init__(message)
        self.token: str = token
        self.output_dir: str | None = output_dir
        self.reason: str = reason
        self.final: bool = final


class RunTimeoutError(LmmsEvalError, TimeoutError):
    """``as_completed`` reached its timeout with jobs still pending (they go on running).

    Attributes:
        pending: The seqs of the jobs still pending.
    """

    def __init__(self, message: str = "", *, pending: list[int] | None = None) -> None:
        super().__init__(message)
        self.pending: list[int] = list(pending or [])


class JobLostError(LmmsEvalError, RuntimeError):
    """A job of an evaluation run that the server no longer knows (restart or eviction),
    raised by ``raise_for_outcome`` for a ``JobLost`` outcome.

    Attributes:
        job_id: The server's job id (None if it was never known).
        last_state: The last state the run saw the job in.
        labels: The job's labels.
    """

    def __init__(
        self,
        message: str = "",
        *,
        job_id: str | None = None,
        last_state: str = "",
        labels: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.job_id: str | None = job_id
        self.last_state: str = last_state
        self.labels: dict[str, Any] = dict(labels or {})


# What stopped the write, in the words of the message about an accepted job (the ledger's
# own messages end in "try again", which would send the job a second time).
_WHY_NOT_RECORDED = {
    LedgerFullError: "the disk is full (free some space)",
    LedgerBusyError: "another process kept it locked",
    LedgerReadOnlyError: "it cannot be written",
}


def answer_not_recorded(error: E, job_id: str, server: str) -> E:
    """The error of a ledger that failed to record the answer of a job the server accepted:
    a copy of the same class (``except LedgerFullError`` still matches) whose message says
    the job exists, and which carries its ``job_id`` and ``server``."""
    why = next(
        (text for kind, text in _WHY_NOT_RECORDED.items() if isinstance(error, kind)),
        str(error).splitlines()[0] if str(error) else type(error).__name__,
    )
    told = copy.copy(error)
    told.args = (
        f"The server {server} accepted the job (job id {job_id}), but the run ledger "
        f"{error.path!r} could not record its answer: {why}. The job exists and is not lost; "
        "do not submit it again: the run keeps its answer and records it at its next poll "
        "(ready, harvest, wait, as_completed), and should this process end first, a run "
        "reopened on this ledger reconciles it with the server.",
    )
    told.job_id, told.server = job_id, server
    return told
