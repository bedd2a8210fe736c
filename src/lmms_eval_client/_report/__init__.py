"""One self-contained HTML report of evaluation runs, and checkpoint comparison.

``write_report`` (``run.report``, ``lmms-eval-client runs report``) reads run ledgers
(read-only, ``data.py``) and writes one HTML file (``page.py``, charts in ``svg.py``) that
opens offline: no script, style, font or image is fetched. ``compare`` (``compare.py``)
pairs two checkpoints' per-sample scores (lmms-eval's paired t-test, ``stats.py``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import selectors
import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from .._checks import check_path
from .._exceptions import InvalidArgumentError
from .._results.file_access import FileSystem
from .._results.path_map import PathMap
from .._text import shown
from .compare import Comparison, Flip, MetricComparison, compare
from .data import JobRef, read_report
from .page import render
from .stats import PairedTest, paired_ttest

__all__ = [
    "Comparison",
    "Flip",
    "MetricComparison",
    "PairedTest",
    "compare",
    "paired_ttest",
    "write_report",
]


class _HasLedger(Protocol):
    @property
    def ledger_path(self) -> str: ...


Source = str | os.PathLike[str] | _HasLedger


def _is_source(value: object) -> bool:
    return isinstance(value, (str, os.PathLike)) or hasattr(value, "ledger_path")


def _sources(runs: object) -> list[Source]:
    """The ledgers a report is of: one, or a list or tuple of them, each a path, a
    PostgreSQL URL or an evaluation run (InvalidArgumentError for anything else)."""
    sources = [runs] if _is_source(runs) else runs
    if isinstance(sources, Iterable) and not isinstance(sources, (bytes, str)):
        sources = list(sources)  # (a generator, any iterable of ledgers)
    if not isinstance(sources, list) or not all(_is_source(s) for s in sources):
        raise InvalidArgumentError(
            "runs must be a run ledger (a path, a PostgreSQL URL or an EvalRun) or a list of "
            f"them, got {shown(runs)}"
        )
    return list(sources)


def _path_of(source: Source) -> str | os.PathLike[str]:
    if isinstance(source, (str, os.PathLike)):
        return source
    # A run's ledger_path hides a PostgreSQL URL's password: its ledger's target has it.
    target = getattr(getattr(source, "_ledger", None), "target", None)
    return target if isinstance(target, str) else source.ledger_path


def write_report(
    runs: Source | Sequence[Source],
    path: str | os.PathLike[str],
    *,
    step_label: str = "step",
    samples_job: JobRef | None = None,
    max_samples: int = 200,
    compare_jobs: tuple[JobRef, JobRef] | None = None,
    title: str | None = None,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
) -> Path:
    """Write one self-contained HTML report of one or several runs to ``path``; return it.

    ``runs``: ledgers (SQLite files, PostgreSQL URLs, or EvalRuns), read-only; a URL's
    password is never written into the page. The page holds a chart per task x metric of
    the value against the label ``step_label`` (the seq where a job has none), stderr
    bands, the best point ringed by the metric's direction, one line per run; a
    table of every job (key, labels, server, status, duration, metrics, why a failed or
    lost job ended, and its log tail when readable here); with ``samples_job`` (a seq or
    key of the first run) a paged viewer of at most ``max_samples`` samples a task of that
    checkpoint; with ``compare_jobs=(a, b)`` the paired comparison of two of its
    checkpoints. Results and logs are read through ``path_map`` / ``filesystem``.

    Raises InvalidArgumentError for a bad argument or a ``path`` that cannot be written
    (a folder, a ledger's file, a name too long, a folder this user may not enter),
    LedgerNotFoundError for a ledger that is not there (a missing file, a missing folder, a
    PostgreSQL schema that holds no ledger: nothing is created), the other LedgerErrors for
    one that cannot be read (a directory or a damaged file is a CorruptLedgerError; one in a
    folder this user may not enter, a LedgerReadOnlyError "cannot be read"), UnknownJobError
    for a seq or key the first run does not have, and the results errors of ``compare``.

    Example::

        write_report(["evals.sqlite"], "report.html", samples_job="step-600")
    """
    if title is not None and not isinstance(title, str):
        raise InvalidArgumentError(f"title must be a str or None, not {title!r}")
    ledgers = [_path_of(source) for source in _sources(runs)]
    out = _checked_output(path, ledgers)
    data = read_report(
        ledgers,
        step_label=step_label,
        samples_job=samples_job,
        max_samples=max_samples,
        compare_jobs=compare_jobs,
        path_map=path_map,
        filesystem=filesystem,
    )
    _write_page(out, render(data, title))
    return out


def _write_page(out: Path, page: str) -> None:
    """The page written whole or not at all: beside the file ``out`` names (through a
    symbolic link), keeping its mode, then renamed over it (a failed write left an earlier
    report empty). Written in place instead, never renamed over what it names: a FIFO; a
    path that is, or leads through links to, a device's (``/dev/...``) or a process's open
    file (``/proc/PID/fd/N``): one of this process's (``-o /dev/stdout`` when the shell sent
    stdout to a log) on that descriptor, after what was written to it before; another
    process's appended to what its file holds. A lone surrogate a results file may hold
    (valid JSON, ``"\\udc00"``) is written as its escape: UTF-8 has no form of it."""
    data = page.encode("utf-8", "backslashreplace")
    through, descriptor = _special_path(out)
    try:
        if descriptor is not None:
            _write_descriptor(descriptor, data)
            return
        try:
            found = os.stat(out)
        except FileNotFoundError:
            found = None
        regular = found is not None and stat.S_ISREG(found.st_mode)
        if through or (found is not None and not regular):
            # (a file another process has open: kept, the page after it)
            with open(out, "ab" if through == "/proc" and regular else "wb") as stream:
                stream.write(data)
            return
        target = Path(os.path.realpath(out))
        part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        # 0o666 and the umask for a new page, as a plain write gives it (a report is shared)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            if found is not None:
                os.chmod(part, stat.S_IMODE(found.st_mode))
            os.replace(part, target)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
    except OSError as exc:
        raise _cannot_write(out, exc) from None


# The names of an open file of a process, in /proc (/dev/fd/N and /dev/stdout lead there).
_PROC_FD = re.compile(r"/proc/(self|thread-self|\d+)(?:/task/\d+)?/fd/(\d+)")
_STANDARD = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _special_path(out: str | os.PathLike[str]) -> tuple[str, int | None]:
    """Whether ``out`` is, or leads through symbolic links to, a device's path ("/dev") or
    a process's open file ("/proc"; "" for neither); and the descriptor of this process
    it names, if it names one (``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``: 1)."""
    through = ""
    try:
        path = os.path.abspath(out)
    except OSError:  # (a working folder that was removed: writing there says why)
        return through, None
    for _ in range(40):  # (Linux follows at most 40 links)
        if path in _STANDARD:
            return "/dev", _STANDARD[path]
        if path.startswith("/dev/fd/") and path[8:].isdigit():
            return "/dev", int(path[8:])
        match = _PROC_FD.fullmatch(path)
        if match is not None:
            own = match[1] in ("self", "thread-self", str(os.getpid()))
            return through or "/proc", int(match[2]) if own else None
        if path.startswith("/dev/"):
            through = through or "/dev"
        try:
            link = os.readlink(path)
        except (OSError, ValueError):  # not a link (or not there): the walk ends
            break
        path = os.path.normpath(os.path.join(os.path.dirname(path), link))
    return through, None


def page_descriptor(out: str | os.PathLike[str]) -> int | None:
    """The descriptor of this process ``out`` names, if it names one: the page is written on
    it (``-o /dev/stdout``: 1, where the command line then says "report written" on stderr)."""
    return _special_path(out)[1]


def _write_descriptor(descriptor: int, data: bytes) -> None:
    """``data`` written on an open descriptor of this process, after what Python's own
    streams of it hold (flushed first: a print before the page stays before it); on a
    non-blocking one (a pipe whose reader set O_NONBLOCK), each part when there is room."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            if stream.fileno() == descriptor:
                stream.flush()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(descriptor, view) :]
        except BlockingIOError:  # a pipe its reader made non-blocking, full: wait
            with selectors.DefaultSelector() as room:  # (select() takes no fd past 1023)
                room.register(descriptor, selectors.EVENT_WRITE)
                room.select()


def _checked_output(
    path: str | os.PathLike[str], ledgers: Sequence[str | os.PathLike[str]]
) -> Path:
    """The report's path, refused (InvalidArgumentError) before anything is read when it
    is empty, a folder, one that cannot be looked at (a name too long, a folder this user
    may not enter), or one of the ledgers it reports on (the page would replace it). A
    ledger that cannot be looked at is not the page: opening it says why it cannot be read."""
    if isinstance(path, str) and not path:
        raise InvalidArgumentError("The report's path is empty: give a file name, e.g. report.html")
    out = Path(check_path("path", path))
    try:  # (Path.exists and is_dir raise what is not ENOENT, ENOTDIR, EBADF or ELOOP)
        if out.is_dir():
            raise InvalidArgumentError(f"{str(out)!r} is a folder: give a file name in it")
        there = out.exists()
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    for ledger in ledgers if there else ():
        # (a PostgreSQL URL is no file: Path(url) does not exist.) SQLite's -wal holds the
        # writes a live run has not checkpointed yet: replaced, they are gone (the review).
        for part in (Path(ledger), *(Path(f"{ledger}{end}") for end in _SIDECARS)):
            if _same_file(out, part):
                raise InvalidArgumentError(
                    f"{str(out)!r} is the run's ledger, or a file of it ({part.name}): "
                    "writing the page there would replace the run. Give another file name."
                )
    return out


def _cannot_write(out: Path, exc: OSError) -> InvalidArgumentError:
    """The error of a page that cannot be written at ``out`` (or its path looked at)."""
    return InvalidArgumentError(f"Cannot write the report to {str(out)!r}: {exc.strerror or exc}")


_SIDECARS = ("-wal", "-shm", "-journal")


def _same_file(out: Path, part: Path) -> bool:
    """Whether ``part`` (a ledger's file) is the existing file ``out``; not when ``part``
    cannot be looked at (its open, read-only, raises the ledger's error for that)."""
    try:
        return part.exists() and out.samefile(part)
    except (OSError, ValueError):  # (ValueError: a NUL in the path)
        return False
