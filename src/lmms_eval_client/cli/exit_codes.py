"""The exit codes of ``lmms-eval-client``: documented, stable, and the one place they are decided.

Scripts branch on them (``if lmms-eval-client wait "$JOB"; then ...``), so a code never
changes meaning; new ones are only ever added. This module imports neither typer nor rich.
"""

from __future__ import annotations

import traceback
from enum import IntEnum

# The facade, not the errors themselves: those import httpx, which `--help` does without.
import lmms_eval_client as sdk

from .terminal import for_terminal


class ExitCode(IntEnum):
    """What ``lmms-eval-client`` exits with.

    With several jobs (``wait A B``), the exit code is the first of UNREACHABLE, NOT_FOUND,
    LOST, FAILED, CANCELLED, TIMEOUT that applies to any of them (see :func:`worst`), else OK.

    >>> ExitCode.CANCELLED
    <ExitCode.CANCELLED: 3>
    """

    OK = 0
    """The command did what it was asked; a waited-for job completed."""
    FAILED = 1
    """A job failed, or the server refused the request (an HTTP error, a bad answer)."""
    USAGE = 2
    """Bad command line: an unknown option, a malformed --model-args, a bad value, a run
    ledger that does not exist (a file, or a PostgreSQL schema)."""
    CANCELLED = 3
    """A waited-for job was cancelled."""
    TIMEOUT = 4
    """The wait's --timeout passed first; the job goes on on the server."""
    UNREACHABLE = 5
    """The server could not be reached (refused, timed out, connection broken), or a
    PostgreSQL ledger's database."""
    RESULTS_NOT_REACHABLE = 6
    """A results or log file the server wrote is not reachable from this machine."""
    NOT_FOUND = 7
    """The server does not know the job (never submitted, evicted, or lost in a restart)."""
    LOST = 8
    """A job of a run ledger (``runs watch``) is ``lost``: its server no longer knows it, or
    its submission could not be resolved."""
    INTERRUPTED = 130
    """Ctrl+C (128 + SIGINT, as shells report it). A wait stops; the job is not cancelled."""


# The order in which several jobs' outcomes decide one exit code: the first present wins.
_SEVERITY = (
    ExitCode.UNREACHABLE,
    ExitCode.NOT_FOUND,
    ExitCode.LOST,
    ExitCode.FAILED,
    ExitCode.CANCELLED,
    ExitCode.TIMEOUT,
    ExitCode.RESULTS_NOT_REACHABLE,
    ExitCode.USAGE,
    ExitCode.INTERRUPTED,
)


def worst(codes: list[ExitCode]) -> ExitCode:
    """One exit code for several outcomes: the most severe present, else OK.

    >>> worst([ExitCode.OK, ExitCode.TIMEOUT, ExitCode.FAILED])
    <ExitCode.FAILED: 1>
    """
    present = set(codes)
    return next((code for code in _SEVERITY if code in present), ExitCode.OK)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code that an error ends the command with.

    >>> exit_code_for(InvalidArgumentError("limit must be > 0"))
    <ExitCode.USAGE: 2>
    """
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, (sdk.InvalidArgumentError, sdk.LedgerNotFoundError)):
        return ExitCode.USAGE  # (a ledger named that is not there: a file, or a schema)
    if isinstance(error, sdk.JobCancelledError):
        return ExitCode.CANCELLED
    if isinstance(error, sdk.WaitTimeoutError):
        return ExitCode.TIMEOUT
    if isinstance(error, (sdk.APIConnectionError, sdk.LedgerConnectionError)):
        return ExitCode.UNREACHABLE  # (a request's timeout included; a ledger's database)
    if isinstance(error, sdk.NoServerAvailableError):
        from .._pool.errors import none_answered

        return ExitCode.UNREACHABLE if none_answered(error) else ExitCode.FAILED
    if isinstance(error, sdk.JobNotFoundError):
        return ExitCode.NOT_FOUND
    if isinstance(error, sdk.ResultsNotReachableError):
        return ExitCode.RESULTS_NOT_REACHABLE
    return ExitCode.FAILED


def one_line(error: BaseException) -> str:
    """The error as one readable line: its message, whitespace folded.

    A failed job says the line of its error that tells why (``reason``), not the whole
    log tail the server sends.

    >>> one_line(InvalidArgumentError("bad\\n  value"))
    'bad value'
    """
    if isinstance(error, sdk.JobFailedError):
        text = f"job {error.job_id} failed: {error.reason}"
    elif isinstance(error, sdk.AmbiguousJobIdError):  # server= is the SDK's; here --server
        text = (
            f"Job id {error.job_id!r} is held by {len(error.servers)} servers "
            f"({', '.join(error.servers)}): a job is (server, id), so give its server alone, "
            f"e.g. --server {error.servers[0]}"
        )
    elif isinstance(error, sdk.LmmsEvalError):
        text = str(error)
    else:  # not one of ours: a bug; say what it is (--debug shows where)
        text = "".join(traceback.format_exception_only(type(error), error))
    return for_terminal(" ".join(text.split()) or type(error).__name__)
