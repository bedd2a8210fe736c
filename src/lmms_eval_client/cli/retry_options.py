"""The retry options of the commands that follow a run (``watch``, ``runs watch``): the
SDK's ``RetryOnFailure``, given on the command line, one definition of each option.

A retry is a new job in the ledger, linked to the attempt it replaces; only the last
attempt's outcome is harvested (see ``RetryOnFailure``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .._exceptions import InvalidArgumentError
from .._runs.options import RetryOnFailure

RetryLost = Annotated[
    bool,
    typer.Option(
        "--retry-lost",
        help="Submit a lost job again (its server restarted, or forgot it) when its output "
        "folder holds no complete results, up to --max-attempts in all. Without it a lost job "
        "is said and left (it may have run).",
    ),
]
RetryFailed = Annotated[
    str | None,
    typer.Option(
        "--retry-failed",
        metavar="REGEX",
        help="Submit a failed job again when the server's error matches this regular "
        "expression (e.g. 'CUDA out of memory'), up to --max-attempts in all.",
        show_default=False,
    ),
]
MaxAttempts = Annotated[
    int | None,
    typer.Option(
        "--max-attempts",
        min=2,
        help="Attempts per job in all, the first included, with --retry-lost or "
        "--retry-failed  [default: 3]",
        show_default=False,
    ),
]


def retry_policy(lost: bool, failed: str | None, max_attempts: int | None) -> RetryOnFailure | None:
    """The run's retry policy from the command line's options (None: no retries); a bad
    regular expression, or --max-attempts alone, is a usage error before anything is opened.

    >>> retry_policy(True, None, None)
    RetryOnFailure(pattern=None, max_attempts=3, lost=True)
    >>> retry_policy(False, None, None) is None
    True
    """
    if not lost and failed is None:
        if max_attempts is not None:
            raise InvalidArgumentError(
                "--max-attempts counts the attempts of --retry-lost or --retry-failed: give "
                "one of them too"
            )
        return None
    if failed is not None and not failed.strip():  # ("$PATTERN" unset: every failure matched)
        raise InvalidArgumentError("--retry-failed is empty: give the error to retry on")
    try:
        return RetryOnFailure(failed, 3 if max_attempts is None else max_attempts, lost=lost)
    except InvalidArgumentError as exc:  # (its words are the SDK's: pattern is not ...)
        raise InvalidArgumentError(f"--retry-failed: {exc}") from None
