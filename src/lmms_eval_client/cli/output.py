"""What the commands print: JSON for scripts, tables and lines for people, CSV, error lines.

Rules every command follows:

* ``--json`` prints exactly one JSON document on stdout (``logs --follow --json``: one
  object per line), nothing else; progress and errors go to stderr.
* Human output goes to stdout; errors and warnings are one line each on stderr.
* Lists meant for pipes (``models``, ``tasks``) are one name per line, no decoration.
* Secret model_args (``api_key=``, ``hf_token=``... which the server echoes in every
  JobInfo.request) are printed as ``***``: every JSON document passes ``masked_for_display``.
* Every CSV is written by ``csv_text``: a spreadsheet program reads it as data, never as
  formulas.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
import sys
import traceback
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .exit_codes import one_line
from .terminal import TerminalFormatter, for_terminal, json_for_terminal

if TYPE_CHECKING:  # for annotations only: `--help` and `status` need none of them
    import typer
    from pydantic import BaseModel, JsonValue

    from lmms_eval_client import EvalResults, Metric


def as_json(value: BaseModel) -> dict[str, JsonValue]:
    """A model as the JSON object it is on the wire (unknown fields included).

    Raises:
        LmmsEvalError: The server's answer nests too deeply to be written back as JSON
            (pydantic stops at its serialization depth; a raw traceback before).
    """
    try:
        dumped: dict[str, JsonValue] = value.model_dump(mode="json")
    except ValueError as exc:  # PydanticSerializationError is one
        from .._exceptions import LmmsEvalError

        raise LmmsEvalError(
            f"The server's answer cannot be written as JSON ({' '.join(str(exc).split())}): "
            "it nests too deeply. Without --json, the fields are shown."
        ) from None
    return dumped


def _masked(data: JsonValue) -> JsonValue:
    # Imported here: the masking rules bring the SDK's errors (and httpx), which --help
    # must not load (tests/cli/test_lazy_commands.py).
    from .._secret_args import masked_for_display

    shown: JsonValue = masked_for_display(data)
    return shown


def _finite(data: JsonValue) -> JsonValue:
    """``data`` with NaN and the infinities as their text (``strict_number``), at any depth."""
    if isinstance(data, float):
        return strict_number(data)
    if isinstance(data, (list, tuple)):
        return [_finite(item) for item in data]
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    return data


def _document(data: JsonValue, indent: int | None) -> str:
    """``data`` as strict JSON, secrets masked: what ``--json`` prints. Text that is no
    UTF-8 (a lone surrogate a file held, valid JSON) is written as its ``\\u`` escape."""
    shown = _finite(_masked(data))
    text = json.dumps(shown, indent=indent, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(shown, indent=indent, allow_nan=False)
    return json_for_terminal(text)


def print_json(data: JsonValue, stream: TextIO | None = None) -> None:
    """One JSON document, indented, on stdout."""
    print(_document(data, 2), file=stream or sys.stdout, flush=True)


def print_json_line(data: JsonValue) -> None:
    """One compact JSON document on one line (streams: ``logs --follow --json``)."""
    print(_document(data, None), file=sys.stdout, flush=True)


def print_lines(lines: Iterable[str]) -> None:
    """Plain lines on stdout, a server's terminal codes shown escaped."""
    out = sys.stdout
    for line in lines:
        out.write(for_terminal(line) + "\n")
    out.flush()


def print_text(text: str) -> None:
    """Text (a CSV) on stdout as it is, a server's terminal codes shown escaped."""
    sys.stdout.write(for_terminal(text))
    sys.stdout.flush()


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"warning: {for_terminal(' '.join(message.split()))}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """One informational line on stderr (never mixed into what a script reads)."""
    print(for_terminal(message), file=sys.stderr, flush=True)


def error(message: str) -> None:
    """The one line a failed command prints on stderr."""
    # (click's own usage errors quote an argument whole: a ledger URL's password too;
    # imported here, as the masking rules load httpx, which --help must not)
    from .._text import url_passwords, without_passwords

    shown = without_passwords(message, url_passwords(sys.argv[1:]))
    print(f"error: {for_terminal(shown)}", file=sys.stderr, flush=True)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the stderr of the moment: a live table's (rich's Live prints what is
    written there above the table, where a line written past it would garble it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        del value  # logging sets it at construction: the stderr of the moment wins


def log_to_stderr(ctx: typer.Context, level: int, form: str) -> None:
    """The SDK's log from ``level`` on stderr (escaped, as ``form``), for this invocation
    only: undone when it ends, so an in-process run (CliRunner's) leaves the logger as it
    found it."""
    handler = _Stderr()
    handler.setFormatter(TerminalFormatter(form))
    logger = logging.getLogger("lmms_eval_client")
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(before)

    ctx.call_on_close(undo)


def show_warnings(ctx: typer.Context) -> None:
    """The SDK's warnings (a server that cannot be reached, a checkpoint skipped) on stderr
    as ``WARNING: ...`` lines, unless ``--debug`` shows the whole log already."""
    if not ctx.obj.debug:
        log_to_stderr(ctx, logging.WARNING, "%(levelname)s: %(message)s")


def report(exc: BaseException, *, debug: bool, hint: str = "") -> None:
    """An error as one line on stderr (``hint`` after it); with ``--debug``, its traceback
    before it."""
    if debug:  # its messages quote servers: escaped as every other line
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print(for_terminal(trace), end="", file=sys.stderr, flush=True)
    error(("interrupted" if isinstance(exc, KeyboardInterrupt) else one_line(exc)) + hint)


def print_fields(pairs: Iterable[tuple[str, str]]) -> None:
    """``name: value`` lines, names aligned."""
    shown = [(name, value) for name, value in pairs]
    width = max((len(name) for name, _ in shown), default=0)
    print_lines(f"{name + ':':<{width + 1}} {value}" for name, value in shown)


# -- results -----------------------------------------------------------------------------

METRIC_COLUMNS = (
    "task",
    "metric",
    "filter",
    "value",
    "stderr",
    "higher_is_better",
    "is_group",
    "alias",
    "raw",
)


def strict_number(value: float | None) -> float | str | None:
    """NaN and the infinities as the text json writes for them (as a run's summary holds
    them): printed as numbers they would make the output JSON that strict parsers refuse."""
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def metric_row(metric: Metric) -> dict[str, JsonValue]:
    """One metric as a flat record (the JSON and CSV rows of ``results``)."""
    return {
        "task": metric.task,
        "metric": metric.name,
        "filter": metric.filter,
        "value": strict_number(metric.value),
        "stderr": strict_number(metric.stderr),
        "higher_is_better": metric.higher_is_better,
        "is_group": metric.is_group,
        "alias": metric.alias,
        # a value that is no number ("N/A", text, an object), as the file holds it
        "raw": metric.raw if metric.value is None else None,
    }


# -- CSV ---------------------------------------------------------------------------------

# A spreadsheet program evaluates a cell that begins with one of these as a formula
# (=cmd|' /C calc'!A0, @SUM(1+1), =HYPERLINK(...)): OWASP's CSV injection. A label, a key,
# a task's name or alias comes from a user, a server or a file.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Text that is a number (--label lr=-0.5, -Infinity): read as that number, nothing more.
_NUMBER_TEXT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|-?Infinity|NaN")


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Rows as CSV (``\\n`` ends each) that a spreadsheet program reads as data: a text cell
    beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (a formula, to it)
    is written with a ``'`` before it, unless it is a number's text; numbers as they are. A
    row with a carriage return in a cell has every cell quoted (the csv module leaves a
    lone ``\\r`` unquoted: a reader starts a new row there, its rest a cell of its own).

    >>> csv_text([["=1+2", "@SUM(1)", -0.5, "-0.5", "a=b"]])
    "'=1+2,'@SUM(1),-0.5,-0.5,a=b\\n"
    """
    buffer = io.StringIO()
    plain = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        cells = [
            f"'{cell}"
            if isinstance(cell, str)
            and cell.startswith(_FORMULA_STARTS)
            and not _NUMBER_TEXT.fullmatch(cell)
            else cell
            for cell in row
        ]
        returns = any(isinstance(cell, str) and "\r" in cell for cell in cells)
        (quoted if returns else plain).writerow(cells)
    return buffer.getvalue()


def _cell(value: JsonValue) -> JsonValue:
    """A CSV cell: empty for None, an object or a list as its JSON."""
    return "" if value is None else json.dumps(value) if isinstance(value, (dict, list)) else value


def results_json(results: EvalResults) -> dict[str, JsonValue]:
    """What ``results --json`` prints for one results file."""
    return {
        "model_name": results.model_name,
        "path": results.path,
        "server_path": results.server_path,
        "tasks": list(results.tasks),
        "metrics": [metric_row(m) for m in results.metrics],
    }


def results_csv(results: Sequence[EvalResults], sources: Sequence[str] | None = None) -> str:
    """``results --csv``: one row per metric (and model), a header first; with ``sources``
    (one per results, the target each came from), a ``source`` column first; the results
    file each row came from (``path``, as in ``--json``) last: a folder's files of one
    model would otherwise give rows alike."""
    first = ("source",) if sources is not None else ()
    rows: list[Iterable[object]] = [(*first, "model_name", *METRIC_COLUMNS, "path")]
    for index, one in enumerate(results):
        source = (sources[index],) if sources is not None else ()
        path = _cell(one.path)
        for metric in one.metrics:
            row = metric_row(metric)
            values = (_cell(row[c]) for c in METRIC_COLUMNS)
            rows.append((*source, one.model_name, *values, path))
    return csv_text(rows)
