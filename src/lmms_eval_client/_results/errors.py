"""The errors of reading what lmms-eval wrote: results, samples and log files.

Part of the one error tree rooted in :class:`LmmsEvalError` (see ``_exceptions``); also
the ResultsFormatError of a results file pydantic refused.
"""

from __future__ import annotations

from pydantic import ValidationError

from .._exceptions import InvalidArgumentError, LmmsEvalError, _PlainMessage
from .._text import shown

# --- Results files (reading what lmms-eval wrote) ------------------------------------------
#
# LmmsEvalError
# ├── ResultsError                  a results, samples or log file could not be found or read
# │   ├── ResultsNotReachableError  the server's file is not reachable from this machine
# │   ├── ResultsFormatError        (also ValueError) the file is not what lmms-eval writes
# │   ├── ResultsTooLargeError      a file (or samples line) beyond its limit: not read whole
# │   ├── ResultsUnavailableError   the job has no such files (not completed, failed, ...)
# │   ├── MetricNotFoundError       (also KeyError) no such task / metric / filter
# │   └── SamplesNotFoundError      (also KeyError) no samples file for that task
# └── MissingDependencyError        (also ImportError) an optional extra is not installed


class ResultsError(_PlainMessage, LmmsEvalError):
    """A results, samples or log file of an evaluation could not be found or read.

    Attributes:
        path: The file (or folder) concerned, as this machine tried to reach it (a local
            path or a URL), when there is one.
    """

    def __init__(self, message: str = "", *, path: str | None = None) -> None:
        super().__init__(message)
        self.path: str | None = path


class ResultsNotReachableError(ResultsError):
    """A file the server wrote is not reachable from this machine.

    Results are files on the server's disk. Read them on the same machine, over a shared
    filesystem, through a ``path_map`` from the server's folder to where it is mounted here
    (or ``$LMMS_EVAL_PATH_MAP``), or through an fsspec ``filesystem``.

    Attributes:
        server_path: The path on the server's disk (None when a local path was given).
        client_path: Where this machine looked for it (also ``path``).
        reason: What went wrong there, e.g. ``"no such file"``, ``"permission denied"``,
            or over http(s) ``"HTTP 500 (Internal Server Error)"``, ``"cannot connect
            (...)"``, a timeout.
    """

    def __init__(
        self,
        message: str = "",
        *,
        server_path: str | None = None,
        client_path: str | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message, path=client_path)
        self.server_path: str | None = server_path
        self.client_path: str | None = client_path
        self.reason: str = reason


class ResultsFormatError(ResultsError, ValueError):
    """A file is not what lmms-eval writes: truncated or corrupt JSON, another shape, a
    samples line that is not a JSON object, a folder where a file was expected, or not a
    regular file at all (a FIFO or a device, which is never opened).

    Also a ValueError, as the ``json.JSONDecodeError`` it replaces.

    Attributes:
        path: The file.
        line: The 1-based line of a samples file (None for a results file).
        reason: What is wrong with it.
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        line: int | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message, path=path)
        self.line: int | None = line
        self.reason: str = reason


class ResultsTooLargeError(ResultsError):
    """A results file beyond ``max_bytes``, or a samples line beyond ``max_line_bytes``.

    Reading stopped at the limit, so nothing that size was held in memory. Pass a larger
    limit to read a file that is legitimately that big.

    Attributes:
        path: The file.
        limit: The limit that was exceeded, in bytes.
        line: The 1-based line of a samples file (None for a whole file).
    """

    def __init__(
        self, message: str = "", *, path: str | None = None, limit: int = 0, line: int | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.limit: int = limit
        self.line: int | None = line


class ResultsUnavailableError(ResultsError):
    """The job has no such files: it is not completed, it failed, or the server listed none.

    Attributes:
        job_id: The job's id.
        status: Its status when it was looked at (e.g. ``"failed"``).
    """

    def __init__(
        self, message: str = "", *, job_id: str = "", status: str = "", path: str | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.job_id: str = job_id
        self.status: str = status


class MetricNotFoundError(ResultsError, KeyError):
    """``EvalResults.metric()`` found no such task, metric or filter.

    Also a KeyError, as the dict lookup it replaces. The message lists what is available.

    Attributes:
        task: The task asked for.
        name: The metric asked for (e.g. ``"exact_match"``).
        filter: The filter asked for (e.g. ``"none"``).
        available: The metrics the file has, as ``"<task>: <metric>,<filter>"``.
    """

    def __init__(
        self,
        message: str = "",
        *,
        task: str = "",
        name: str = "",
        filter: str = "",
        available: list[str] | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.task: str = task
        self.name: str = name
        self.filter: str = filter
        self.available: list[str] = list(available or [])


class SamplesNotFoundError(ResultsError, KeyError):
    """No samples file is known for that task.

    lmms-eval writes one per task only with ``log_samples=True``, and none for a group
    (its subtasks have them). Also a KeyError.

    Attributes:
        task: The task asked for.
        available: The tasks that have a samples file.
    """

    def __init__(
        self,
        message: str = "",
        *,
        task: str = "",
        available: list[str] | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.task: str = task
        self.available: list[str] = list(available or [])


def results_format_error(exc: ValidationError, where: str) -> ResultsFormatError:
    """A ResultsFormatError for what pydantic found wrong with a results file."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    kind = first["type"]
    if kind == "json_invalid" and "recursion limit" in first["msg"]:
        reason = f"JSON nested too deeply to read ({first['msg']})"
    elif kind == "json_invalid":
        reason = f"not valid JSON, truncated or corrupt ({first['msg']})"
    elif not first["loc"] and kind in {"model_type", "model_attributes_type"}:
        reason = "not an lmms-eval results file: the top level is not a JSON object"
    elif first["loc"] == ("results",) and kind == "missing":
        reason = (
            "not an lmms-eval results file: it has no 'results' key "
            "(a samples file or another JSON?)"
        )
    else:
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        reason = f"not an lmms-eval results file: {loc}: {first['msg']}{more}"
    return ResultsFormatError(f"{where}: {reason}", path=where, reason=reason)


def require(name: str, value: object, kinds: type | tuple[type, ...], what: str) -> None:
    """InvalidArgumentError unless ``value`` is one of ``kinds`` (``what`` says which)."""
    if not isinstance(value, kinds):
        raise InvalidArgumentError(f"{name} must be {what}, got {type(value).__name__}")


def check_metric_names(metric_names: object) -> frozenset[str] | None:
    """``metric_names`` as a set of names (None stays None), or InvalidArgumentError: a
    str would be read as the set of its letters, silently."""
    if metric_names is None:
        return None
    if isinstance(metric_names, (str, bytes, bytearray)):
        raise InvalidArgumentError(
            "metric_names must be a collection of metric names, e.g. ['exact_match'], not a "
            f"{type(metric_names).__name__} (read as its letters); got {shown(metric_names)}"
        )
    try:
        names = list(metric_names)  # type: ignore[call-overload]
    except TypeError:
        names = None
    if names is None or not all(isinstance(name, str) for name in names):
        wrong = metric_names if names is None else next(n for n in names if not isinstance(n, str))
        raise InvalidArgumentError(
            "metric_names must be a collection of metric names (str), e.g. ['exact_match'], "
            f"or None; got {shown(wrong)}"
        )
    return frozenset(names)
