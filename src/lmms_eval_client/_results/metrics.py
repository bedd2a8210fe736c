"""Metric rows: lmms-eval's ``"<metric>,<filter>"`` keys split, each with its stderr.

A task entry of a results file looks like::

    {"alias": "e2e_arith", "exact_match,none": 0.8, "exact_match_stderr,none": 0.2,
     "exact_match_stderr_clt,none": 0.2, "exact_match_stderr_clustered,none": "N/A"}

``exact_match`` with filter ``none`` is the metric; the ``_stderr*`` keys of the same metric
and filter are its standard errors (``"N/A"`` where lmms-eval computed none).
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from .._exceptions import MissingDependencyError

if TYPE_CHECKING:
    import pandas

# "<metric>_stderr", "<metric>_stderr_clt", "<metric>_stderr_clustered", ...
_STDERR_NAME = re.compile(r"^(?P<base>.+)_(?P<kind>stderr(?:_[A-Za-z0-9]+)*)$")


class Metric(BaseModel):
    """One metric of one task or group, as lmms-eval aggregated it.

    ``float(metric)`` is its value (NaN when the file holds no number).

    >>> m = results.metric("e2e_arith", "exact_match")
    >>> m.value, m.stderr, m.higher_is_better
    (0.8, 0.19999999999999998, True)
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True)

    task: str = Field(description="The task or group name, e.g. `e2e_arith`.")
    name: str = Field(description="The metric, e.g. `exact_match` (before the comma).")
    filter: str = Field(description="The filter, e.g. `none` (after the comma).")
    value: float | None = Field(
        description="The value as a number; None when the file holds no number (see `raw`)."
    )
    raw: JsonValue = Field(
        default=None,
        description='The value exactly as the file holds it (a number, `"N/A"`, text, ...).',
    )
    stderr: float | None = Field(
        default=None,
        description='Its standard error; None when there is none or the file says "N/A".',
    )
    stderrs: dict[str, float | None] = Field(
        default_factory=dict,
        description="Every standard error the file has for it, by kind: `stderr`, "
        '`stderr_clt`, `stderr_clustered`, ... (None for `"N/A"`).',
    )
    higher_is_better: bool | None = Field(
        default=None, description="Whether a higher value is better; None when not stated."
    )
    is_group: bool = Field(
        default=False, description="True for a group's aggregate, False for a (sub)task."
    )
    alias: str | None = Field(
        default=None,
        description='The display name lmms-eval gives the task (subtasks: `" - <name>"`).',
    )

    @property
    def key(self) -> str:
        """The key lmms-eval uses in the file: ``"<name>,<filter>"``."""
        return f"{self.name},{self.filter}"

    def __float__(self) -> float:
        return math.nan if self.value is None else self.value


def as_number(value: object) -> float | None:
    """A metric value as a float: numbers (and numeric text) as they are, else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:  # "N/A" and other text
            return None
    return None


def json_number(value: float | None) -> float | str | None:
    """A number as strict JSON can hold it: NaN and the infinities, which JSON has no
    numbers for, as the text Python's json writes for them (``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``), which ``float()`` reads back."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def parse_task_metrics(
    task: str,
    entry: Mapping[str, JsonValue],
    *,
    is_group: bool,
    higher_is_better: Mapping[str, bool | None] | None = None,
) -> list[Metric]:
    """The metrics of one entry of ``results`` (or ``groups``), in the file's order."""
    values: dict[tuple[str, str], JsonValue] = {}
    for key, value in entry.items():
        name, comma, filter_ = key.partition(",")
        if comma:  # keys without a comma (alias, ...) are not metrics
            values[(name, filter_)] = value
    stderrs: dict[tuple[str, str], dict[str, float | None]] = {}
    metric_keys: list[tuple[str, str]] = []
    for name, filter_ in values:
        match = _STDERR_NAME.match(name)
        if match and (match["base"], filter_) in values:
            stderrs.setdefault((match["base"], filter_), {})[match["kind"]] = as_number(
                values[(name, filter_)]
            )
        else:
            metric_keys.append((name, filter_))
    alias = entry.get("alias")
    better = higher_is_better or {}
    rows = []
    for name, filter_ in metric_keys:
        errors = stderrs.get((name, filter_), {})
        raw = values[(name, filter_)]
        rows.append(
            # built from values already checked: skip validation (thousands of tasks load fast)
            Metric.model_construct(
                task=task,
                name=name,
                filter=filter_,
                value=as_number(raw),
                raw=raw,
                stderr=errors.get("stderr"),
                stderrs=errors,
                higher_is_better=better.get(name),
                is_group=is_group,
                alias=alias if isinstance(alias, str) else None,
            )
        )
    return rows


def describe_metrics(metrics: Iterable[Metric], limit: int = 20) -> str:
    """``"task: metric,filter"`` for each metric, at most ``limit`` of them."""
    names = [f"{m.task}: {m.key}" for m in metrics]
    shown = "; ".join(names[:limit])
    if len(names) > limit:
        shown += f"; ... ({len(names) - limit} more)"
    return shown or "none"


def _format_number(value: float | None, raw: JsonValue) -> str:
    if value is None:
        return "N/A" if raw is None or raw == "N/A" else str(raw)[:24]
    if not math.isfinite(value):  # int() of them raises
        return str(value)  # nan, inf, -inf
    if value == int(value) and abs(value) < 1e15 and not isinstance(raw, float):
        return str(int(value))
    return f"{value:.4f}"


def format_table(
    metrics: Iterable[Metric],
    *,
    n_shot: Mapping[str, int | str | None] | None = None,
) -> str:
    """A compact text table of metric rows, in the manner of lmms-eval's own summary."""
    shots = n_shot or {}
    header = ("Task", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr")
    rows: list[tuple[str, ...]] = []
    for m in metrics:
        arrow = "" if m.higher_is_better is None else "↑" if m.higher_is_better else "↓"
        shot = shots.get(m.task)
        rows.append(
            (
                m.alias if m.alias is not None else m.task,
                m.filter,
                "" if shot is None else str(shot),
                m.name,
                arrow,
                _format_number(m.value, m.raw),
                "±" if m.stderr is not None else "",
                _format_number(m.stderr, m.stderr) if m.stderr is not None else "N/A",
            )
        )
    if not rows:
        return "(no metrics)"
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    right = {2, 5, 7}  # numbers line up on the right

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return " ".join(parts).rstrip()

    rule = " ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


FRAME_COLUMNS = (
    "model",
    "task",
    "alias",
    "is_group",
    "metric",
    "filter",
    "value",
    "stderr",
    "higher_is_better",
    "n_shot",
    "n_samples",
)


def metrics_frame(
    metrics: Iterable[Metric],
    *,
    model: str | None,
    n_shot: Mapping[str, int],
    n_samples: Mapping[str, int | None],
) -> pandas.DataFrame:
    """Metric rows as a pandas DataFrame with :data:`FRAME_COLUMNS` (needs pandas)."""
    try:
        pd = importlib.import_module("pandas")
    except ImportError:
        raise MissingDependencyError(
            "EvalResults.to_pandas() needs pandas: pip install 'lmms-eval-client[pandas]'",
            package="pandas",
            extra="pandas",
        ) from None
    rows = [
        (
            model,
            m.task,
            m.alias,
            m.is_group,
            m.name,
            m.filter,
            m.value,
            m.stderr,
            m.higher_is_better,
            n_shot.get(m.task),
            n_samples.get(m.task),
        )
        for m in metrics
    ]
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    # whole numbers with gaps (a group has no n-shot) stay integers, not NaN floats
    return frame.astype({"n_shot": "Int64", "n_samples": "Int64"})
