"""The checks of the settings every part takes: seconds and counts, each written once, so
that every parameter given in seconds (or as a count) takes the same values and is refused
with the same message, naming it."""

from __future__ import annotations

import math
import os
import sys
from urllib.parse import quote

from ._exceptions import InvalidArgumentError
from ._text import shown

# Longer than any evaluation, yet a number every socket and event loop can wait for
# (1e300 s overflows them): None is the way to say "no timeout".
MAX_TIMEOUT = 1e7

# httpx refuses URLs over 65,536 characters; leave room for the base URL.
MAX_JOB_ID_URL_CHARS = 60_000


def check_seconds(name: str, value: object, *, zero: bool = False, alternatives: str = "") -> float:
    """``value`` as seconds, or InvalidArgumentError naming ``name``: the one check of every
    setting given in seconds (a request's timeout and each of its phases, a wait's timeout
    and poll interval, a pool's intervals, an evaluation run's).

    A finite number, not a bool, in (0, MAX_TIMEOUT] (with ``zero``: [0, MAX_TIMEOUT]).
    NaN and infinity are refused (None is the way to say "no limit", where there is one:
    the caller handles it and says so in ``alternatives``, e.g. "or None for none"), and
    huge ints are refused rather than overflowed (float(10**400) raises).
    """
    seconds: float | None = None
    if not isinstance(value, bool) and isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = None
    lowest_ok = seconds is not None and (seconds >= 0 if zero else seconds > 0)
    if seconds is not None and lowest_ok and math.isfinite(seconds) and seconds <= MAX_TIMEOUT:
        return seconds
    interval = f"[0, {MAX_TIMEOUT:g}]" if zero else f"(0, {MAX_TIMEOUT:g}]"
    also = f", {alternatives}" if alternatives else ""
    raise InvalidArgumentError(
        f"{name} must be a finite number of seconds in {interval}{also}; got {shown(value)}"
    )


def check_count(name: str, value: object, minimum: int = 1, *, alternatives: str = "") -> int:
    """``value`` as a count, or InvalidArgumentError naming ``name``: the one check of every
    setting given as a whole number (bytes, retries, attempts, lines, jobs, samples...).

    An int, not a bool (``True`` is no count), at least ``minimum``; a float, even 2.0, and a
    numeric str are refused. ``alternatives`` says what else the caller takes (e.g. "or
    None: no cap").
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        also = f" ({alternatives})" if alternatives else ""
        raise InvalidArgumentError(f"{name} must be an int >= {minimum}{also}; got {shown(value)}")
    if value > sys.maxsize:  # what a slice, a range or a C size takes at most
        raise InvalidArgumentError(f"{name} must be an int <= {sys.maxsize}; got {shown(value)}")
    return value


def check_name(name: str, value: object, *, alternatives: str = "") -> str:
    """``value`` as a name (a label, a run's name, a pattern...): a non-empty str without
    NUL (no file, tracker or ledger takes one), or InvalidArgumentError naming ``name``."""
    if not isinstance(value, str) or not value or "\x00" in value:
        also = f" ({alternatives})" if alternatives else ""
        raise InvalidArgumentError(
            f"{name} must be a non-empty str without NUL{also}; got {shown(value)}"
        )
    return value


def check_names(**names: object) -> None:
    """Each given option a name (``check_name``), or None."""
    for option, value in names.items():
        if value is not None:
            check_name(option, value, alternatives="or None")


def check_path(name: str, value: object) -> str:
    """``value`` as a path the user names on this machine: a str or os.PathLike of a str, not
    empty ("" would be the working folder) and without NUL (no file system takes one); the
    path as a str, or InvalidArgumentError naming ``name``."""
    path = value
    if isinstance(value, os.PathLike):
        try:
            path = os.fspath(value)
        except TypeError:  # a __fspath__ that returns neither str nor bytes
            path = None
    if not isinstance(path, str) or not path or "\x00" in path:
        raise InvalidArgumentError(
            f"{name} must be a non-empty path (a str or os.PathLike) without NUL; "
            f"got {shown(value)}"
        )
    return path


def text_problem(value: str) -> str:
    """Why ``value`` cannot go on the wire ("" when it can): a lone surrogate, e.g. from
    os.fsdecode, has no UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid text (cannot be UTF-8 encoded): {exc}"
    return ""


def job_id_problem(job_id: str) -> str:
    """Why ``job_id`` cannot name a job in a URL's path ("" when it can): the one rule for
    the ids a caller gives and the ids a server answers with (any other text is sent as one
    percent-encoded path segment)."""
    if not job_id:
        return "it is empty"
    if job_id in (".", ".."):  # dot segments survive percent-encoding and are resolved
        return "a dot segment names another path"
    if problem := text_problem(job_id):
        return f"it is {problem}"
    # (quote() only when the id could be too long: a character is at most 12 encoded)
    if (
        len(job_id) * 12 > MAX_JOB_ID_URL_CHARS
        and len(quote(job_id, safe="")) > MAX_JOB_ID_URL_CHARS
    ):
        return (
            f"it is too long for a URL ({len(job_id)} characters); "
            "lmms-eval's job ids are 36-character UUIDs"
        )
    return ""
