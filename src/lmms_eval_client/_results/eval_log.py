"""A job's evaluation log (``eval-<time>.log`` in its output_dir): where it is, its last
lines, and the lines it gained since a read (``logs --follow``).

What the clients call for ``eval_log``. Reads are bounded (at most 1 MiB a call),
synchronous and thread-safe: the async client runs them in a worker thread.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._checks import check_count
from .._exceptions import InvalidArgumentError
from .._http.config import DEFAULT_LOG_LINES
from .._text import strip_ansi
from .errors import ResultsUnavailableError
from .file_access import FileLocation, FileSystem, server_location
from .files import status_of
from .path_map import PathMap
from .redaction import job_secret_values, redact_secrets

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo

_MAX_READ_BYTES = 1024 * 1024  # one read of a log never takes more than this
_TAIL_BLOCK = 64 * 1024
_LOG_PATTERN = "eval-*.log"
_LOG_IN_ERROR = re.compile(r"Last lines of (?P<path>.+?\.log):")


def eval_log_server_path(job: JobInfo) -> str | None:
    """The server path of a job's evaluation log when the job says it (no file is read).

    A failed job's error names it ("Last lines of <output_dir>/eval-<time>.log: ...").
    Only a file lmms-eval names so (``eval-*.log``) is taken: the error is the server's
    text, and another file it named (``/var/log/x.log``) would be read on this machine.

    >>> eval_log_server_path(failed)
    '/srv/evals/fail/eval-20261201-215603.log'
    """
    match = _LOG_IN_ERROR.search(job.error or "")
    if match is None or not fnmatch.fnmatchcase(posixpath.basename(match["path"]), _LOG_PATTERN):
        return None
    return match["path"]


def output_dir_of_job(job: JobInfo) -> str | None:
    """A job's output_dir on the server: as submitted, else derived from its result paths
    or from the log its error names; None when the server chose one it did not report.

    >>> output_dir_of_job(done)
    '/srv/evals/a'
    """
    request_dir = getattr(job.request, "output_dir", None)
    if isinstance(request_dir, str) and request_dir:
        return request_dir
    for files in (job.result or {}).values():
        if files.results:  # <output_dir>/<model>/<timestamp>_results.json
            return os.path.dirname(os.path.dirname(files.results))
    log = eval_log_server_path(job)
    return os.path.dirname(log) if log else None


def _log_stamp(name: str) -> str:
    return name[len("eval-") : -len(".log")]


def _pick_log(folder: FileLocation, job: JobInfo | None) -> FileLocation | None:
    names = folder.list_names(_LOG_PATTERN)
    if not names:
        return None
    if job is not None and job.started_at:
        # The server names the log by its local time at the job's start, as started_at is.
        started = re.sub(r"[^0-9T]", "", job.started_at[:19]).replace("T", "-")
        after = [n for n in names if _log_stamp(n) >= started]
        if after:
            return folder.child(after[0])
    return folder.child(names[-1])


def _locate_log(
    source: JobInfo | str | os.PathLike[str],
    path_map: PathMap | None,
    fs: FileSystem | None,
) -> FileLocation:
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if not isinstance(text, str) or not text:
            raise InvalidArgumentError(f"expected a job, a folder or a log path, not {source!r}")
        location = server_location(text, path_map=path_map, filesystem=fs, user_given=True)
        if text.endswith(".log") and not location.is_dir():
            return location
        job = None
    else:
        job = source
        status = status_of(job)
        if status == "queued":
            raise ResultsUnavailableError(
                f"Job {job.job_id} is queued: it writes its evaluation log once it starts",
                job_id=job.job_id,
                status=status,
            )
        named = eval_log_server_path(job)
        if named:
            return server_location(named, path_map=path_map, filesystem=fs)
        folder = output_dir_of_job(job)
        if folder is None:
            raise ResultsUnavailableError(
                f"Job {job.job_id} ({status}) was submitted without output_dir, so its log is "
                "in a temporary folder the server does not report; submit with output_dir= "
                "(or an output root) to be able to read it",
                job_id=job.job_id,
                status=status,
            )
        location = server_location(folder, path_map=path_map, filesystem=fs)
    if not location.is_dir():
        raise location.not_reachable("no such folder")
    log = _pick_log(location, job)
    if log is None:
        raise ResultsUnavailableError(
            f"No {_LOG_PATTERN} in {location.display}",
            job_id=job.job_id if job else "",
            status=status_of(job) if job else "",
            path=location.display,
        )
    return log


def _read(location: FileLocation, offset: int | None, lines: int) -> tuple[int, bytes, int]:
    """Where the bytes read start, the bytes, and the log's size: from ``offset`` on (a log
    shorter than it from its start), else its last ``lines`` lines (a first line cut by
    the read's limit left out). At most ``_MAX_READ_BYTES``."""
    with location.open_binary() as handle:
        try:
            end = handle.seek(0, os.SEEK_END)
            if offset is not None:
                start = offset if offset <= end else 0
                handle.seek(start)
                return start, handle.read(min(end - start, _MAX_READ_BYTES)), end
            start, data = end, b""
            while start > 0 and data.count(b"\n") <= lines and end - start < _MAX_READ_BYTES:
                step = min(_TAIL_BLOCK, start, _MAX_READ_BYTES - (end - start))
                start -= step
                handle.seek(start)
                data = handle.read(step) + data
        except Exception as exc:
            raise location.not_reachable(f"reading failed: {type(exc).__name__}: {exc}") from exc
    if start > 0:  # the first line read is a partial one (all of it, without a break)
        first, sep, data = data.partition(b"\n")
        start += len(first) + len(sep)
    return start, data, end


def _rows(data: bytes) -> list[str]:
    rows = data.decode("utf-8", errors="replace").split("\n")
    if rows[-1] == "":  # the line break that ends the last line
        rows.pop()
    return rows


def _redacted(text: str, source: JobInfo | str | os.PathLike[str]) -> str:
    known = () if isinstance(source, (str, os.PathLike)) else job_secret_values(source)
    return redact_secrets(text, known)


def _plain(line: str) -> str:
    """A line as a terminal shows it: no colour codes, only the last of its redraws."""
    line = strip_ansi(line)
    if "\r" in line:
        parts = [p for p in line.split("\r") if p.strip()]
        line = parts[-1] if parts else ""
    return line


@dataclass(frozen=True)
class LogLines:
    """Lines read from a job's evaluation log, and where the next read starts."""

    lines: list[str]
    """The lines, as a terminal shows them (colour codes and redraws gone), secrets masked."""
    offset: int
    """The byte offset after the last line given: what the next read passes."""
    path: str
    """The log read (where this machine reads it): what the next read passes too."""
    caught_up: bool
    """Whether the log held nothing more (a last line not yet ended aside) when read."""


def read_eval_log(
    source: JobInfo | str | os.PathLike[str],
    *,
    offset: int | None = None,
    path: str | None = None,
    lines: int = DEFAULT_LOG_LINES,
    final: bool = False,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
) -> LogLines:
    """The lines of a job's evaluation log after byte ``offset``; without one, its last
    ``lines`` lines. Only ended lines: a line being written (a progress bar redrawn) is
    left for a later read, unless ``final`` (the job has ended). Reads at most 1 MiB:
    ``caught_up`` says whether to read again at once. A log shorter than ``offset``, or
    another file than ``path`` (the one ``offset`` was read in), is read from its start.

    >>> part = read_eval_log(job, lines=10)
    >>> later = read_eval_log(client.get_job(job.job_id), offset=part.offset, path=part.path)
    """
    check_count("lines", lines, 0)
    if offset is not None:
        check_count("offset", offset, 0)
    location = _locate_log(source, path_map, filesystem)
    if offset is not None and path is not None and location.path != path:
        offset = 0  # another log (a new one the job started): all of it is new
    start, data, end = _read(location, offset, lines)
    read_to = start + len(data)
    ended = data.rfind(b"\n") + 1
    # a line longer than a read is given in parts, not waited for forever
    if not final and (ended or len(data) < _MAX_READ_BYTES):
        data = data[:ended]
    rows = _rows(data)
    if offset is None:
        rows = rows[-lines:] if lines else []
    text = _redacted("\n".join(_plain(row) for row in rows), source)
    lines_read = text.split("\n") if rows else []
    return LogLines(lines_read, start + len(data), location.path, read_to == end)


def eval_log_tail(
    source: JobInfo | str | os.PathLike[str],
    *,
    lines: int = DEFAULT_LOG_LINES,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
    plain: bool = True,
    redact: bool = True,
) -> str:
    """The last ``lines`` lines of the evaluation log (``eval-<time>.log``) of a job.

    ``source`` is a :class:`JobInfo` (its output_dir, result paths or error tell where the
    log is; running jobs too), or an output_dir or log path on the server. Paths are mapped
    by ``path_map`` (else ``$LMMS_EVAL_PATH_MAP``). Reads at most 1 MiB from the end of the
    file. ``plain`` drops colour codes and progress-bar redraws; ``redact`` masks API keys
    and tokens (the log shows model_args as given): every ``api_key=``-like value, and the
    values of a JobInfo's own secret model_args wherever they stand (a JobInfo a server
    sent: a run's ledger keeps fingerprints of them, not the values).

    >>> print(eval_log_tail(client.get_job(job_id), lines=20))
    """
    check_count("lines", lines, 0)
    location = _locate_log(source, path_map, filesystem)
    if lines == 0:
        missing = location.missing()
        if missing is not None:
            raise location.not_reachable(missing)
        return ""
    rows = _rows(_read(location, None, lines)[1])
    if plain:  # as a terminal shows it, without the blank lines at the end
        rows = [_plain(row) for row in rows]
        while rows and not rows[-1].strip():
            rows.pop()
    tail = "\n".join(rows[-lines:])
    return _redacted(tail, source) if redact else tail
