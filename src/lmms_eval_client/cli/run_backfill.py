"""``lmms-eval-client runs export LEDGER --to mlflow|tensorboard|wandb``: a finished (or
running) run's metrics written to a tracker after the fact, each job at its training step.

The same sinks as ``EvalRun(..., sinks=[...])``, over the same table (``runs export``'s
rows), through ``export_to``. When the ledger can be written, each job exported is
recorded in it under the sink's name (the ``sink_writes`` a run with that sink records
too): a second export to the same destination, or an export after a run that fed it,
writes only what is missing. ``--no-record`` (or a ledger that cannot be written) opens
it read-only and writes every job.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import JsonValue

from lmms_eval_client import InvalidArgumentError, LedgerReadOnlyError

from .._runs.ledger import Ledger as RunLedger
from .._runs.postgres.url import is_database_url, parse_url
from .._runs.table import TABLE_PARAMS, TABLE_QUERY, table_rows
from .output import print_json, print_lines
from .runs import open_read_only

if TYPE_CHECKING:
    from .._trackers.base import Sink


class Tracker(str, enum.Enum):
    mlflow = "mlflow"
    tensorboard = "tensorboard"
    wandb = "wandb"


_PANEL = "Export to a tracker"


def _exported(*names: str, help: str) -> Any:
    """An option of ``runs export --help``'s tracker panel (``names``: typer's default else)."""
    return typer.Option(*names, help=help, rich_help_panel=_PANEL)


To = Annotated[
    Tracker | None,
    _exported(
        "--to",
        help="Write the metrics to this tracker instead of printing them: each completed "
        "job once, at its training step (--step-label). When the ledger is writable, what "
        "was written is recorded in it, so exporting again to the same destination (or "
        "after a run whose sinks fed it) writes only what is missing; --no-record: the "
        "ledger is only read and every job is written.",
    ),
]
TrackingUri = Annotated[
    str | None, _exported(help="--to mlflow: the tracking server, e.g. http://127.0.0.1:5000.")
]
Experiment = Annotated[
    str | None,
    _exported(help="--to mlflow: the experiment (with --run-name: that run, continued)."),
]
RunId = Annotated[
    str | None,
    _exported(
        help="--to mlflow: an existing run's id. --to wandb: the run's id (resumed if it exists)."
    ),
]
RunName = Annotated[
    str | None, _exported(help="--to mlflow: the run's name in --experiment (found, else created).")
]
LogDir = Annotated[
    str | None,  # (not a Path: Path("") is ".", the working folder)
    _exported(help="--to tensorboard: the folder of the event files (tensorboard --logdir DIR)."),
]
Project = Annotated[
    str | None, _exported(help="--to wandb: the project (offline when WANDB_MODE=offline).")
]
Entity = Annotated[str | None, _exported(help="--to wandb: the team or user.")]
StepLabel = Annotated[
    str,
    _exported(help="The label holding each job's training step (an integer); '': the seq."),
]
Record = Annotated[
    bool,
    _exported(
        "--record/--no-record", help="Record what was written in the ledger (when it is writable)."
    ),
]


def _flag(name: str) -> str:
    """The command-line option of a sink argument: ``run_id`` -> ``--run-id``."""
    return f"--{name.replace('_', '-')}"


def _needs(tracker: Tracker, **given: object) -> None:
    missing = [_flag(name) for name, value in given.items() if value is None]
    if missing:
        raise InvalidArgumentError(f"--to {tracker.value} needs {' and '.join(missing)}")


# The options each tracker takes: another's is refused, not ignored (--run-name with
# --to wandb wrote to a new run at each export, each job again).
_TAKES = {
    "tensorboard": {"log_dir"},
    "mlflow": {"tracking_uri", "experiment", "run_id", "run_name"},
    "wandb": {"project", "entity", "run_id"},
}


def _takes_only(tracker: Tracker, given: dict[str, object]) -> None:
    others = [name for name, value in given.items() if value is not None]
    foreign = [_flag(name) for name in others if name not in _TAKES[tracker.value]]
    if foreign:
        raise InvalidArgumentError(
            f"--to {tracker.value} does not take {' or '.join(foreign)} (another tracker's)"
        )


def make_sink(
    tracker: Tracker,
    *,
    tracking_uri: str | None,
    experiment: str | None,
    run_id: str | None,
    run_name: str | None,
    log_dir: str | None,
    project: str | None,
    entity: str | None,
    step_label: str | None,
) -> Sink:
    """The sink ``--to`` names, from its options (InvalidArgumentError for a missing one);
    ``step_label`` None: each job's seq is its step."""
    _takes_only(tracker, {"tracking_uri": tracking_uri, "experiment": experiment,
                          "run_id": run_id, "run_name": run_name, "log_dir": log_dir,
                          "project": project, "entity": entity})  # fmt: skip
    if tracker is Tracker.tensorboard:
        _needs(tracker, log_dir=log_dir)
        from .._trackers.tensorboard_sink import TensorBoardSink

        assert log_dir is not None
        return TensorBoardSink(log_dir, step_label=step_label)
    if tracker is Tracker.mlflow:
        _needs(tracker, tracking_uri=tracking_uri)
        if (experiment is None) == (run_id is None):
            raise InvalidArgumentError("--to mlflow needs --experiment E or --run-id R (one)")
        from .._trackers.mlflow_sink import MLflowSink

        # MLflow tries a server that does not answer 7 times over about 4 minutes, saying
        # nothing: a command says so within seconds (the caller's own settings win).
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        assert tracking_uri is not None
        return MLflowSink(
            tracking_uri=tracking_uri,
            run_id=run_id,
            experiment=experiment,
            run_name=run_name,
            step_label=step_label,
        )
    _needs(tracker, project=project)
    from .._trackers.wandb_sink import WandbSink

    return WandbSink(project=project, entity=entity, run_id=run_id, step_label=step_label)


# The rights recording a sink's writes takes in a PostgreSQL ledger's schema (quoted: a
# schema's name is letters, digits, "_" and "-": parse_url checks it).
_MAY_RECORD = "SELECT has_table_privilege(?, 'INSERT') AND has_table_privilege(?, 'UPDATE') AS may"


def _writable(ledger: str, read: RunLedger) -> bool:
    """Whether the writes can be recorded: a SQLite ledger's file and folder writable, a
    PostgreSQL user's rights to record them (asked first: the tracker would be written,
    then the recording refused, and written again by the next export)."""
    if is_database_url(ledger):
        schema = parse_url(ledger).schema
        tables = (f'"{schema}".sink_writes', f'"{schema}".ledger_changes')
        return bool(read.rows(_MAY_RECORD, tables)[0]["may"])
    path = Path(ledger)
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def backfill(ledger: str, make: Callable[[], Sink], *, record: bool, json_out: bool) -> None:
    """Write the run's table to the sink ``make`` makes (recorded in the ledger when asked
    and possible); made once the ledger is found: an MLflow client makes its store."""
    from .._trackers.writes import LedgerSinkWrites, export_to

    with open_read_only(ledger) as read:  # (checks it is a ledger, without writing)
        writable = record and _writable(ledger, read)
    sink = make()
    opened: RunLedger | None = None
    if writable:
        try:
            opened = RunLedger(ledger)
        except LedgerReadOnlyError:
            opened = None  # (a read-only file system: as --no-record)
    with closing(opened) if opened is not None else open_read_only(ledger) as read:
        rows = table_rows(read.rows(TABLE_QUERY, TABLE_PARAMS), read.path)
        writes = LedgerSinkWrites(read) if opened is not None else None
        with sink:
            written = export_to(sink, rows, writes=writes)
            name = sink.name
    jobs = sorted({row.seq for row in rows})
    skipped = [seq for seq in jobs if seq not in written]
    if json_out:
        report: dict[str, JsonValue] = {
            "sink": name,
            "written": list[JsonValue](written),
            "skipped": list[JsonValue](skipped),
            "recorded": opened is not None,
        }
        print_json(report)
        return
    how = "recorded in the ledger" if opened is not None else "not recorded (read-only ledger)"
    print_lines([f"{name}: wrote {len(written)} job(s) {written}, {how}"])
    if skipped:
        print_lines([f"{len(skipped)} job(s) already there: {skipped}"])
