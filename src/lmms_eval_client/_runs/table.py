"""A run as one table: a :class:`MetricRow` per completed job x task x metric.

Pure functions over the ledger's rows (``EvalRun.metrics``, ``to_pandas`` and ``best`` in
``_async/records.py`` do the reading). Where a job's rows come from:

- the ``metrics`` column: rows read with the default summary, in the same read of the
  results files (``summary_and_metric_rows``), with stderr and higher_is_better;
- else its summary, when it has the default shape ``{model: {task: {"name,filter":
  value}}}`` (a ledger of an earlier version, a ``summarize=`` of that shape): stderr from
  its ``"name_stderr,filter"`` keys if any, higher_is_better None. A summary of another
  shape gives no rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import from_json

from .._exceptions import InvalidArgumentError
from .._results.metrics import as_number, import_pandas, parse_task_metrics, trusted
from .ledger_schema import UNREADABLE, damaged
from .states import COMPLETED

if TYPE_CHECKING:
    import pandas

# The final attempt of each chain that completed, with its chain's key (a retry without a
# key of its own takes its first attempt's): one query, whatever the number of jobs.
TABLE_SELECT = (
    "SELECT j.seq, j.job_id, j.server, j.labels, j.summary, j.metrics, "
    "COALESCE(j.submission_key, f.submission_key) AS chain_key "
    "FROM jobs j LEFT JOIN jobs f ON f.seq = j.first_seq "
    "WHERE j.state = ? AND j.retried_by IS NULL "
    "AND (j.metrics NOTNULL OR j.summary NOTNULL)"
)
TABLE_QUERY = f"{TABLE_SELECT} ORDER BY j.seq"
TABLE_PARAMS = (COMPLETED,)

# The columns of to_pandas() and `runs export --csv` besides the labels (label_columns).
HEAD_COLUMNS = ("seq", "key")
TAIL_COLUMNS = ("model", "task", "metric", "filter", "value", "stderr", "higher_is_better")
LABEL_PREFIX = "label."
_FIXED_COLUMNS = frozenset((*HEAD_COLUMNS, *TAIL_COLUMNS))


def label_columns(labels: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each label key of ``labels`` (the rows' labels) -> its column, in order of first
    appearance: the key itself, or ``label.`` + the key when the key is a fixed column's
    name or begins with ``label.``, so that no two columns share a name (labels ``seq``
    and ``label.seq`` are ``label.seq`` and ``label.label.seq``). The one rule of
    ``to_pandas()`` and ``runs export --csv``.

    Example::

        label_columns([{"step": 1, "model": "ckpt-1"}])  # {'step': 'step', 'model': 'label.model'}
    """
    columns: dict[str, str] = {}
    for row in labels:
        for key in row:
            if key not in columns:
                prefixed = key in _FIXED_COLUMNS or key.startswith(LABEL_PREFIX)
                columns[key] = f"{LABEL_PREFIX}{key}" if prefixed else key
    return columns


class MetricRow(BaseModel):
    """One metric of one task of one completed job of a run (``EvalRun.metrics()``).

    Example::

        for row in run.metrics(task="mme", metric="exact_match"):
            print(row.labels["step"], row.value, row.stderr)
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True)

    seq: int = Field(
        description="The job's seq in the ledger (for a retried job, its final attempt's)."
    )
    key: str | None = Field(description="The key the job was submitted under, if any.")
    labels: dict[str, Any] = Field(description="The job's labels (step, epoch, checkpoint...).")
    job_id: str | None = Field(
        description="The server's job id; None for a job recovered from its output folder "
        "whose submission's answer never came (its process was killed after sending it)."
    )
    server: str = Field(description="The base URL of the server that ran the job.")
    model: str = Field(
        description="The model name lmms-eval filed the results under, e.g. "
        "`Qwen__Qwen2-VL-2B-Instruct` (one per checkpoint)."
    )
    task: str = Field(description="The task or group, e.g. `mme`.")
    metric: str = Field(description="The metric, e.g. `exact_match`.")
    filter: str = Field(description="The filter, e.g. `none`.")
    value: float | None = Field(
        description="The value; None when the results hold no number (NaN and the "
        "infinities are kept as floats)."
    )
    stderr: float | None = Field(
        description="Its standard error; None when there is none or it is unknown."
    )
    higher_is_better: bool | None = Field(
        description="Whether a higher value is better, as the results say; None when unknown."
    )


def stored_metrics(rows: Sequence[Mapping[str, Any]]) -> str:
    """The ``metrics`` column of a job: its rows of ``summary_and_metric_rows`` (strict JSON)."""
    return json.dumps([dict(row) for row in rows], allow_nan=False)


def _summary_rows(summary: Any) -> list[dict[str, Any]]:
    """Rows of a summary of the default shape; none for another shape."""
    if not isinstance(summary, dict):
        return []
    rows: list[dict[str, Any]] = []
    for model, tasks in summary.items():
        if not isinstance(tasks, dict):
            return []
        for task, entry in tasks.items():
            if not isinstance(entry, dict) or not all(
                value is None or isinstance(value, (int, float, str)) for value in entry.values()
            ):
                return []
            # lmms-eval's rule: "x_stderr,f" is the stderr of "x,f" when both are there
            for metric in parse_task_metrics(task, entry, is_group=False):
                rows.append(
                    {
                        "model": model,
                        "task": task,
                        "metric": metric.name,
                        "filter": metric.filter,
                        "value": metric.value,
                        "stderr": metric.stderr,
                        "higher_is_better": None,
                    }
                )
    return rows


def _stored_rows(text: str | bytes) -> list[dict[str, Any]]:
    rows = from_json(text)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise TypeError(f"a list of objects expected, not {type(rows).__name__}")
    return rows


def _number(value: Any) -> float | None:
    if type(value) is float or value is None:
        return value
    if not isinstance(value, (int, str)):
        raise TypeError(f"a number expected, not {value!r}")
    return as_number(value)


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"text expected, not {value!r}")
    return value


def _job_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    labels = from_json(record["labels"])
    if not isinstance(labels, dict):
        raise TypeError(f"labels must be an object, not {type(labels).__name__}")
    key = record["chain_key"]
    return {
        "seq": record["seq"],
        "key": None if key is None else _text(key),
        "labels": labels,
        "job_id": None if record["job_id"] is None else _text(record["job_id"]),
        "server": _text(record["server"]),
    }


_FIELDS = set(MetricRow.model_fields)


def _metric_row(job: Mapping[str, Any], row: Mapping[str, Any]) -> MetricRow:
    """A MetricRow of values checked here (tens of thousands are read at once: built
    without pydantic's validation, which costs more than the rest)."""
    better = row["higher_is_better"]
    if better is not None and type(better) is not bool:
        raise TypeError(f"higher_is_better must be a bool, not {better!r}")
    values = {
        **job,
        "labels": dict(job["labels"]),  # each row its own: a row's labels are the caller's
        "model": _text(row["model"]),
        "task": _text(row["task"]),
        "metric": _text(row["metric"]),
        "filter": _text(row["filter"]),
        "value": _number(row["value"]),
        "stderr": _number(row["stderr"]),
        "higher_is_better": better,
    }
    return trusted(MetricRow, values, _FIELDS.copy(), None)


def table_rows(
    records: Iterable[Mapping[str, Any]],
    path: str,
    *,
    task: str | None = None,
    metric: str | None = None,
) -> list[MetricRow]:
    """The MetricRows of ``TABLE_QUERY``'s records, in their order, of ``task`` and
    ``metric`` when given (CorruptLedgerError for a value the ledger cannot hold)."""
    table: list[MetricRow] = []
    for record in records:
        try:
            if record["metrics"] is not None:
                rows = _stored_rows(record["metrics"])
            else:
                rows = _summary_rows(from_json(record["summary"]))
            if not rows:
                continue
            job = _job_fields(record)
            for row in rows:
                if (task is None or row["task"] == task) and (
                    metric is None or row["metric"] == metric
                ):
                    table.append(_metric_row(job, row))
        except UNREADABLE as exc:
            raise damaged(path, f"unreadable metric rows of job {record['seq']}: {exc}") from exc
    return table


_TAIL = itemgetter(*TAIL_COLUMNS)


def table_frame(rows: Sequence[MetricRow]) -> pandas.DataFrame:
    """Rows as a DataFrame: seq, key, a column per label (:func:`label_columns`), then
    :data:`TAIL_COLUMNS`."""
    pd = import_pandas("EvalRun.to_pandas()")
    names = label_columns(row.labels for row in rows)  # label -> its column
    data = []
    for row in rows:
        fields, labels = row.__dict__, row.labels
        data.append((fields["seq"], fields["key"], *[labels.get(n) for n in names], *_TAIL(fields)))
    columns = [*HEAD_COLUMNS, *names.values(), *TAIL_COLUMNS]
    frame = pd.DataFrame(data, columns=columns)
    return frame.astype({"value": "float64", "stderr": "float64"})


def best_row(
    rows: Sequence[MetricRow],
    task: str,
    metric: str,
    filter: str | None,
    higher_is_better: bool | None,
) -> MetricRow | None:
    """The best of ``rows`` (of ``task`` and ``metric``) by the metric's direction: the
    argument, else what the results say; ties go to the earliest seq. None when no row
    has a value to compare."""
    if higher_is_better is not None and not isinstance(higher_is_better, bool):
        raise InvalidArgumentError(f"higher_is_better must be a bool, not {higher_is_better!r}")
    filters = sorted({row.filter for row in rows})
    if filter is None and len(filters) > 1:
        raise InvalidArgumentError(
            f"{task}: {metric} has several filters in this run ({', '.join(filters)}): "
            "pass filter= one of them"
        )
    ranked = [
        row
        for row in rows
        if (filter is None or row.filter == filter)
        and row.value is not None
        and not math.isnan(row.value)
    ]
    if not ranked:
        return None
    direction = higher_is_better
    if direction is None:
        said = {row.higher_is_better for row in ranked} - {None}
        if len(said) != 1:
            why = "disagree on" if said else "do not say"
            raise InvalidArgumentError(
                f"The results {why} whether a higher {task}: {metric} is better: pass "
                "higher_is_better=True or False to best()"
            )
        direction = said.pop()
    best = ranked[0]
    for row in ranked[1:]:  # in seq order: strictly better only, so ties keep the earliest
        value, top = row.value, best.value
        assert value is not None and top is not None  # ranked rows have values
        if (value > top) if direction else (value < top):
            best = row
    return best
