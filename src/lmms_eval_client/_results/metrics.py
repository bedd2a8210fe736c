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
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from .._exceptions import InvalidArgumentError, MissingDependencyError
from .._text import shown
from .stderr_names import stderr_split

if TYPE_CHECKING:
    import pandas


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


M = TypeVar("M", bound=BaseModel)
_new = object.__new__  # what cls.__new__ resolves to for a model, without the lookup
_set_attribute = object.__setattr__


def trusted(
    cls: type[M], values: dict[str, Any], given: set[str], extra: dict[str, Any] | None
) -> M:
    """A model from values of its fields' types already (what a JSON parser produced, or
    this module computed): what ``model_construct`` does, without its pass over the
    fields' aliases and defaults, which costs more than the rest for thousands of rows.

    ``values`` holds every field in order; ``given``, the fields that were in the input
    (``model_fields_set``); ``extra``, the keys the model does not know.
    """
    model = _new(cls)
    _set_attribute(model, "__dict__", values)
    _set_attribute(model, "__pydantic_fields_set__", given)
    _set_attribute(model, "__pydantic_extra__", extra)  # None unless extra="allow"
    _set_attribute(model, "__pydantic_private__", None)
    return model


_FLOAT_MAX = int(sys.float_info.max)  # a larger int has no float: float() raises


def as_number(value: object) -> float | None:
    """A metric value as a float: numbers (and numeric text) as they are, else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
        return math.inf if value > 0 else -math.inf  # as float("1e400") reads its text
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value == "N/A":  # lmms-eval's "no stderr", in most entries: no exception raised
            return None
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


def split_key(key: str, filter: str = "none") -> tuple[str, str]:
    """A metric's name, or its file key (``"exact_match,none"``), and a filter as (name,
    filter); a key's filter is its own, and a filter given besides it, other than the
    default, must be the same (else InvalidArgumentError: which one was meant?)."""
    name, comma, own = key.partition(",")
    if not comma:
        return name, filter
    if filter not in ("none", own):
        raise InvalidArgumentError(
            f"the metric {shown(key)} names its filter, and filter={shown(filter)} another: "
            "give the filter once"
        )
    return name, own


# How the keys of an entry split into metrics and their stderrs, by the entry's keys (the
# tasks of a file mostly share one set of keys: they are split once, not once a task).
# Kept after the file is gone: bounded by the keys they hold (real tasks have tens).
_Plan = list[tuple[str, str, str, list[tuple[str, str]]]]  # key, metric, filter, stderrs
_PLANS: dict[tuple[str, ...], _Plan] = {}
_MAX_PLANNED_KEYS = 50_000  # in all; a larger entry's plan is not kept
_held = [0]  # the keys of _PLANS


def _plan(keys: tuple[str, ...]) -> _Plan:
    """The metrics among ``keys`` (``"<metric>,<filter>"``), each with its stderr keys."""
    found: dict[str, tuple[str, str, str, list[tuple[str, str]]]] = {}
    stderrs: list[tuple[str, str, str]] = []  # the stderr's key, its metric's key, its kind
    present = frozenset(keys)  # a lookup per stderr key: in a tuple, quadratic in the keys
    for key in keys:
        comma = key.find(",")
        if comma < 0:  # keys without a comma (alias, ...) are not metrics
            continue
        name = key[:comma]
        split = stderr_split(name)
        if split is not None and split[0] + key[comma:] in present:
            stderrs.append((key, split[0] + key[comma:], split[1]))
            continue
        found[key] = (key, name, key[comma + 1 :], [])
    for key, base, kind in stderrs:
        if base in found:
            found[base][3].append((key, kind))
        else:  # the stderr of a stderr ("acc_stderr_stderr"): a metric of its own
            comma = key.find(",")
            found[key] = (key, key[:comma], key[comma + 1 :], [])
    return list(found.values())


def parse_task_metrics(
    task: str,
    entry: Mapping[str, JsonValue],
    *,
    is_group: bool,
    higher_is_better: Mapping[str, bool | None] | None = None,
) -> list[Metric]:
    """The metrics of one entry of ``results`` (or ``groups``), in the file's order.

    Run once per task of a file (60,000 times for a large one): written for speed.
    """
    keys = tuple(entry)
    plan = _PLANS.get(keys)
    if plan is None:
        plan = _plan(keys)
        if len(keys) <= _MAX_PLANNED_KEYS:
            if _held[0] + len(keys) > _MAX_PLANNED_KEYS:
                _PLANS.clear()
                _held[0] = 0
            _PLANS[keys] = plan
            _held[0] += len(keys)
    alias = entry.get("alias")
    shown = alias if isinstance(alias, str) else None
    better = higher_is_better or {}
    rows = []
    for key, name, filter_, stderr_keys in plan:
        raw = entry[key]
        errors = {}
        for stderr_key, kind in stderr_keys:
            number = entry[stderr_key]
            errors[kind] = number if type(number) is float else as_number(number)
        # built from values already checked: no validation (thousands of tasks load fast);
        # trusted(), inlined
        row = _new(Metric)
        _set_attribute(
            row,
            "__dict__",
            {
                "task": task,
                "name": name,
                "filter": filter_,
                "value": raw if type(raw) is float else as_number(raw),
                "raw": raw,
                "stderr": errors.get("stderr"),
                "stderrs": errors,
                "higher_is_better": better.get(name),
                "is_group": is_group,
                "alias": shown,
            },
        )
        _set_attribute(row, "__pydantic_fields_set__", _METRIC_FIELDS)  # shared: copies copy it
        _set_attribute(row, "__pydantic_extra__", None)
        _set_attribute(row, "__pydantic_private__", None)
        rows.append(row)
    return rows


_METRIC_FIELDS = set(Metric.model_fields)  # every row's (frozen rows: never changed)


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


# A file's names and text values in a table's cells: a line break would print a row of its
# own (the command line escapes the other control characters: cli/terminal.py).
_LINE_BREAKS = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _on_one_line(text: str) -> str:
    return text if text.isprintable() else text.translate(_LINE_BREAKS)


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
                _on_one_line(m.alias if m.alias is not None else m.task),
                _on_one_line(m.filter),
                "" if shot is None else _on_one_line(str(shot)),
                _on_one_line(m.name),
                arrow,
                _on_one_line(_format_number(m.value, m.raw)),
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


def import_pandas(needed_by: str) -> Any:
    """The pandas module, imported on first use (an optional extra): MissingDependencyError
    naming ``needed_by`` and the extra when it is not installed."""
    try:
        return importlib.import_module("pandas")
    except ImportError:
        raise MissingDependencyError(
            f"{needed_by} needs pandas: pip install 'lmms-eval-client[pandas]'",
            package="pandas",
            extra="pandas",
        ) from None


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


def _int64(count: object) -> int | None:
    """A count as the frame's Int64 column holds it: one beyond 64 bits (no run has that
    many samples or shots; a file may say so) is missing, not an error of the whole frame."""
    return count if isinstance(count, int) and -(2**63) <= count < 2**63 else None


def metrics_frame(
    metrics: Iterable[Metric],
    *,
    model: str | None,
    n_shot: Mapping[str, int],
    n_samples: Mapping[str, int | None],
) -> pandas.DataFrame:
    """Metric rows as a pandas DataFrame with :data:`FRAME_COLUMNS` (needs pandas)."""
    pd = import_pandas("EvalResults.to_pandas()")
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
            _int64(n_shot.get(m.task)),
            _int64(n_samples.get(m.task)),
        )
        for m in metrics
    ]
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    # whole numbers with gaps (a group has no n-shot) stay integers, not NaN floats
    return frame.astype({"n_shot": "Int64", "n_samples": "Int64"})
