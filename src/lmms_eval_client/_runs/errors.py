"""The errors of evaluation runs: the ledger file, submissions, lost jobs.

::

    LmmsEvalError
    ├── LedgerError                   the ledger file could not be used (``.path``)
    │   ├── LedgerNotFoundError       no ledger there: a missing file or schema, opened
    │   │                             read-only (a run creates a missing one)
    │   ├── CorruptLedgerError        not a SQLite database, a damaged one, or a path
    │   │                             that is not a file (a directory, a FIFO, a link loop)
    │   ├── ForeignLedgerError        a SQLite database of another program
    │   ├── NewerLedgerError          written by a newer lmms-eval-client (schema version)
    │   ├── LedgerReadOnlyError       the file, its folder or its file system is not writable
    │   ├── LedgerFullError           the disk (or the ledger's size limit) is full
    │   ├── LedgerBusyError           another process kept the ledger locked too long
    │   ├── LedgerConnectionError     the PostgreSQL server cannot be reached, or the
    │   │                             connection was lost (reconnected at the next use)
    │   ├── LedgerAuthError           PostgreSQL refused the user or its password
    │   ├── NetworkFilesystemError    a SQLite ledger on NFS, SMB, Lustre... (``.filesystem``)
    │   ├── UnknownJobError           no job under that seq or key (``run.job``)
    │   └── RehomeConflictError       ``rehome``: a moved job's id is taken on the new server
    ├── SubmissionUnresolvedError     a lost submission's fate cannot be decided
    ├── RunTimeoutError               (also TimeoutError) as_completed's timeout passed
    ├── JobLostError                  (also RuntimeError) a run's job the server forgot
    └── UncoveredServersError         (also RuntimeError) jobs pending on servers the run
                                      does not reach (``wait``, ``as_completed``)

    UserWarning
    └── UncoveredServersWarning       at open: jobs pending on servers the run does not reach

Every write to the ledger is one transaction: when one of these is raised, nothing of the
failed operation was recorded. A ``LedgerError`` with a ``job_id`` came after the server had
accepted that job: the job exists, and the run records it later (see ``answer_not_recorded``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, TypeVar

from .._exceptions import LmmsEvalError

if TYPE_CHECKING:  # (typing_extensions costs an evaluation run's import 5 ms)
    from typing_extensions import Self

E = TypeVar("E", bound="LedgerError")


class LedgerError(LmmsEvalError):
    """The ledger of an evaluation run could not be opened, read or written.

    Attributes:
        path: The ledger file, or its PostgreSQL URL without the password.
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


class LedgerNotFoundError(LedgerError):
    """There is no run ledger at ``path`` (nothing at a SQLite file's path, or no folder
    for it; a PostgreSQL schema that is missing or holds none) where one was opened only to
    be read: ``write_report``, and every command of the command line that takes an existing
    ledger (``runs ls``, ``runs show``, ``runs watch``, ``runs report``...: exit code 2).
    Nothing was created; an ``EvalRun`` (or ``runs submit``) creates a missing ledger
    instead. A path that is not a file (a directory, a FIFO) is a ``CorruptLedgerError``.

    Example::

        try:
            write_report(["evals.sqlite"], "report.html")
        except LedgerNotFoundError as exc:
            print(f"no run has written {exc.path} yet")
    """


class CorruptLedgerError(LedgerError):
    """The file is not a SQLite database, SQLite found it damaged, or a record in it cannot
    be read; also a path that is not a file (a directory, a FIFO, a device, a symbolic link
    loop). Where a ledger is only read, nothing at its path is a ``LedgerNotFoundError``."""


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
    """Another process kept the ledger locked for longer than the busy timeout (on
    PostgreSQL also: a statement cancelled by its user's ``statement_timeout`` or an
    administrator, a deadlock). Nothing of the operation was recorded: try it again."""


class LedgerConnectionError(LedgerError):
    """The PostgreSQL server of a ledger could not be reached, or the connection was lost
    during an operation (the server restarted, the network failed). Nothing of the failed
    operation was recorded, except in the rare case of a connection lost while committing;
    the ledger reconnects at its next use, so the operation can be tried again (a
    ``submit`` under a ``key`` is safe to repeat)."""


class LedgerAuthError(LedgerError):
    """The PostgreSQL server refused the ledger URL's user or password (or the user may
    not use the database, or read the run's schema: the message names the grants).
    ``path`` is the URL without its password."""


class NetworkFilesystemError(LedgerError):
    """A SQLite ledger would be written on a network file system (NFS, SMB/CIFS, Lustre,
    GPFS, FUSE, ...), where SQLite's WAL shared memory and file locks are unreliable: writes
    could be lost or the file corrupted. Use a local disk or the PostgreSQL ledger, or allow
    it (``allow_network_filesystem=True``, ``LMMS_EVAL_LEDGER_ALLOW_NETWORK_FS=1``).
    Reading a ledger (``read_only``) is allowed anywhere.

    Attributes:
        filesystem: The file system's name, such as ``"nfs"``.
    """

    def __init__(self, message: str = "", *, path: str = "", filesystem: str = "") -> None:
        super().__init__(message, path=path)
        self.filesystem: str = filesystem


class UnknownJobError(LedgerError):
    """The ledger tracks no job under this seq or key (``run.job(...)``).

    Attributes:
        seq: The seq asked for (None when a key was).
        key: The key asked for (None when a seq was).
    """

    def __init__(
        self, message: str = "", *, path: str = "", seq: int | None = None, key: str | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.seq: int | None = seq
        self.key: str | None = key


class RehomeConflictError(LedgerError):
    """``run.rehome(old, new)`` would give the new server two jobs of one id: jobs of the
    old server whose job ids the ledger already has on the new one. Nothing was moved.

    Attributes:
        job_ids: The job ids in conflict.
        seqs: The seqs of the jobs of the old server with those ids.
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str = "",
        job_ids: list[str] | None = None,
        seqs: list[int] | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.job_ids: list[str] = list(job_ids or [])
        self.seqs: list[int] = list(seqs or [])


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


def _some(seqs: list[int], shown: int = 10) -> str:
    more = f" and {len(seqs) - shown} more" if len(seqs) > shown else ""
    return ", ".join(map(str, seqs[:shown])) + more


def _uncovered_message(path: str, servers: dict[str, list[int]], reaches: list[str]) -> str:
    named = "; ".join(f"{url} (seqs {_some(seqs)})" for url, seqs in servers.items())
    old = next(iter(servers), "OLD")
    new = reaches[0] if reaches else "NEW"
    return (
        f"The run ledger {path!r} has jobs pending on servers this run's client does not "
        f"reach: {named}. They are not polled (a URL of another host or port names another "
        f"server). If they now live on a server of this run, say so: "
        f"run.rehome({old!r}, {new!r}); else open the run with a client (or pool) of "
        f"those servers. This run reaches: {', '.join(reaches) or 'no server'}."
    )


class _UncoveredJobs:
    """What UncoveredServersError and UncoveredServersWarning hold, and their one message."""

    def __init__(
        self,
        message: str = "",
        *,
        servers: dict[str, list[int]] | None = None,
        reaches: list[str] | None = None,
        path: str = "",
    ) -> None:
        super().__init__(message)  # type: ignore[call-arg]  # (the exception class next)
        self.servers: dict[str, list[int]] = dict(servers or {})
        self.reaches: list[str] = list(reaches or [])
        self.path: str = path

    @classmethod
    def of(cls, path: str, servers: dict[str, list[int]], reaches: list[str]) -> Self:
        """The error (or warning) of ``servers``' pending jobs, with its message."""
        return cls(
            _uncovered_message(path, servers, reaches), servers=servers, reaches=reaches, path=path
        )


class UncoveredServersError(_UncoveredJobs, LmmsEvalError, RuntimeError):
    """``wait`` or ``as_completed`` found nothing pending on the run's servers but jobs
    pending on servers its client (or pool) does not reach: they would never finish here.

    Attributes:
        servers: The servers of those jobs, as recorded, each with the jobs' seqs.
        reaches: The base URLs this run reaches.
        path: The ledger file.
    """


class UncoveredServersWarning(_UncoveredJobs, UserWarning):
    """A run was opened on a ledger with jobs pending on servers its client (or pool) does
    not reach: they are not polled until moved with ``run.rehome(old, new)`` (or the run
    is opened with a client of those servers).

    Attributes:
        servers: The servers of those jobs, as recorded, each with the jobs' seqs.
        reaches: The base URLs this run reaches.
        path: The ledger file.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only __init__ arguments defeat BaseException's own reduce.
        return (_restore_warning, (type(self), self.args, dict(self.__dict__)))


def _restore_warning(
    kind: type[UncoveredServersWarning], args: tuple[Any, ...], state: dict[str, Any]
) -> UncoveredServersWarning:
    """Rebuild a pickled or copied warning without calling its __init__ again."""
    warning = kind.__new__(kind, *args)
    warning.args = args
    warning.__dict__.update(state)
    return warning


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
