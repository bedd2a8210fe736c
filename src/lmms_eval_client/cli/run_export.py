"""``lmms-eval-client runs export``: a run's metrics as one table (CSV, JSON or text).

Read from the ledger alone, read-only (as ``runs ls``): no server needed, nothing written.
One row per job x task x metric, with the job's seq, key and labels, so that "metric vs
step" is one CSV.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import JsonValue

from lmms_eval_client import InvalidArgumentError, TrackedJob

from .output import print_json, print_lines
from .runs import Ledger, open_read_only
from .server_commands import JsonFlag

ROW_FIELDS = ("model", "task", "metric", "filter", "value", "stderr", "higher_is_better")


def _rows(ledger_path: Path) -> list[dict[str, Any]]:
    """The run's metrics, one row per job x task x metric, read from the ledger alone
    (read-only): each completed job's results summary (``{model: {task: {"name,filter":
    value}}}``, ``"name_stderr,filter"`` entries giving the stderr; a summary holds no
    direction, so ``higher_is_better`` is None). Rows in seq order."""
    with open_read_only(ledger_path) as read:
        jobs = read.jobs()
    rows: list[dict[str, Any]] = []
    for job in jobs:
        if job.state != "completed" or not job.summary:
            continue
        for model, tasks in job.summary.items():
            if not isinstance(tasks, dict):
                continue
            for task, metrics in tasks.items():
                if not isinstance(metrics, dict):
                    continue
                for name, value in metrics.items():
                    metric, _, filter_ = str(name).partition(",")
                    if metric.endswith("_stderr"):
                        continue
                    rows.append(
                        {
                            **_job_fields(job),
                            "model": model,
                            "task": task,
                            "metric": metric,
                            "filter": filter_,
                            "value": value,
                            "stderr": metrics.get(f"{metric}_stderr,{filter_}"),
                            "higher_is_better": None,
                        }
                    )
    return rows


def _job_fields(job: TrackedJob) -> dict[str, Any]:
    return {
        "seq": job.seq,
        "key": job.key,
        "labels": dict(job.labels),
        "job_id": job.job_id,
        "server": job.server,
    }


def _cell(value: Any) -> Any:
    """A CSV cell: empty for None, JSON for a list or mapping."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def export_csv(rows: list[dict[str, Any]]) -> str:
    """seq, key, one column per label key (in order of first appearance; one named like a
    fixed column gets a ``label.`` prefix), then ROW_FIELDS.

    Example::

        print(export_csv(_rows(Path("evals.sqlite"))), end="")
    """
    label_keys = list(dict.fromkeys(k for row in rows for k in row["labels"]))
    fixed = {"seq", "key", *ROW_FIELDS}
    heads = [f"label.{k}" if k in fixed else k for k in label_keys]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("seq", "key", *heads, *ROW_FIELDS))
    for row in rows:
        labels = [_cell(row["labels"].get(k)) for k in label_keys]
        writer.writerow(
            (row["seq"], _cell(row["key"]), *labels, *(_cell(row[f]) for f in ROW_FIELDS))
        )
    return buffer.getvalue()


def export(
    ledger: Ledger,
    task: Annotated[str | None, typer.Option(help="Only this task's rows.")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric's rows.")] = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Export a run's metrics table: one row per job, task and metric, with its labels.

    Read from the ledger alone (read-only: no server needed, nothing written), from each
    completed job's results summary. CSV columns: seq, key, one per label, model, task,
    metric, filter, value, stderr, higher_is_better.
    """
    if json_out and csv_out:
        raise InvalidArgumentError("give --json or --csv, not both")
    rows = [
        row
        for row in _rows(ledger)
        if (task is None or row["task"] == task) and (metric is None or row["metric"] == metric)
    ]
    if json_out:
        records: list[JsonValue] = list(rows)
        print_json(records)
    elif csv_out:
        print(export_csv(rows), end="", flush=True)
    else:
        print_lines(
            f"{row['seq']:>4}  {row['key'] or '-':<12} {_labels_text(row):<20} "
            f"{row['task']:<16} {row['metric']},{row['filter']}  {row['value']}"
            for row in rows
        )


def _labels_text(row: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in row["labels"].items()) or "-"
