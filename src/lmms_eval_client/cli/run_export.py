"""``lmms-eval-client runs export``: a run's metrics as one table (CSV, JSON or text), or
written to a tracker with ``--to`` (``run_backfill.py``).

Read from the ledger alone, read-only (as ``runs ls``): no server needed, nothing written
(``--to`` records what it wrote when the ledger is writable). One row per job x task x
metric, with the job's seq, key and labels, so that "metric vs step" is one CSV.
"""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any

import typer
from pydantic import JsonValue

from lmms_eval_client import InvalidArgumentError

from .._checks import check_names
from .._runs.table import (
    HEAD_COLUMNS,
    TABLE_PARAMS,
    TABLE_QUERY,
    TAIL_COLUMNS,
    label_columns,
    table_rows,
)
from .output import csv_text, print_json, print_lines, print_text, strict_number
from .run_backfill import (
    Entity,
    Experiment,
    LogDir,
    Project,
    Record,
    RunId,
    RunName,
    StepLabel,
    To,
    TrackingUri,
    backfill,
    make_sink,
)
from .run_view import labels_text
from .runs import Ledger, open_read_only
from .server_commands import JsonFlag

ROW_FIELDS = TAIL_COLUMNS


def metric_rows(
    ledger: str, task: str | None = None, metric: str | None = None
) -> list[dict[str, Any]]:
    """The run's metrics table (``EvalRun.metrics()``'s rows, as JSON data), read from the
    ledger (a SQLite file or a PostgreSQL URL) alone, read-only: one row per completed job
    x task x metric, in seq order.

    Example::

        rows = metric_rows("evals.sqlite", task="mme")
    """
    check_names(task=task, metric=metric)
    with open_read_only(ledger) as read:
        records = read.rows(TABLE_QUERY, TABLE_PARAMS)
        path = read.path
    rows = table_rows(records, path, task=task, metric=metric)
    return [row.model_dump(mode="json") for row in rows]


def _cell(value: Any) -> Any:
    """A CSV cell: empty for None, JSON for a list or mapping, NaN and the infinities as
    ``results --csv`` writes them (``NaN``, ``Infinity``)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return strict_number(value)
    return value


def export_csv(rows: list[dict[str, Any]]) -> str:
    """seq, key, one column per label key (``to_pandas()``'s columns: ``label_columns``),
    then ROW_FIELDS (``csv_text``: a spreadsheet program reads no formula in it).

    Example::

        print(export_csv(metric_rows("evals.sqlite")), end="")
    """
    columns = label_columns(row["labels"] for row in rows)  # label -> its column
    table: list[tuple[Any, ...]] = [(*HEAD_COLUMNS, *columns.values(), *ROW_FIELDS)]
    for row in rows:
        labels = [_cell(row["labels"].get(k)) for k in columns]
        table.append((row["seq"], _cell(row["key"]), *labels, *(_cell(row[f]) for f in ROW_FIELDS)))
    return csv_text(table)


def export(
    ledger: Ledger,
    task: Annotated[str | None, typer.Option(help="Only this task's rows.")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric's rows.")] = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    json_out: JsonFlag = False,
    to: To = None,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    run_id: RunId = None,
    run_name: RunName = None,
    log_dir: LogDir = None,
    project: Project = None,
    entity: Entity = None,
    step_label: StepLabel = "step",
    record: Record = True,
) -> None:
    """Export a run's metrics table: one row per job, task and metric, with its labels.

    Read from the ledger alone (read-only: no server needed, nothing written): the rows of
    ``EvalRun.metrics()``. CSV columns: seq, key, one per label (``label.`` before a
    label named like another column or beginning with ``label.``), model, task, metric,
    filter, value, stderr, higher_is_better.

    With --to mlflow|tensorboard|wandb, the same rows are written to that tracker (each
    job at its training step, as a run's sinks write them). When the ledger is writable,
    each job written is recorded in it: exporting again to the same destination writes
    only what is missing (--no-record: read-only, every job written).
    """
    if json_out and csv_out:
        raise InvalidArgumentError("give --json or --csv, not both")
    if to is not None:
        if csv_out or task is not None or metric is not None:
            raise InvalidArgumentError(
                "--to writes every metric of each job (a job is recorded whole): "
                "not with --csv, --task or --metric"
            )
        make = functools.partial(
            make_sink,
            to,
            tracking_uri=tracking_uri,
            experiment=experiment,
            run_id=run_id,
            run_name=run_name,
            log_dir=log_dir,
            project=project,
            entity=entity,
            step_label=step_label or None,  # '': each job's seq
        )
        backfill(ledger, make, record=record, json_out=json_out)
        return
    rows = metric_rows(ledger, task, metric)
    if json_out:
        records: list[JsonValue] = list(rows)
        print_json(records)
    elif csv_out:
        print_text(export_csv(rows))
    else:
        print_lines(
            f"{row['seq']:>4}  {row['key'] or '-':<12} {labels_text(row['labels']):<20} "
            f"{row['task']:<16} {row['metric']},{row['filter']}  {row['value']}"
            for row in rows
        )
