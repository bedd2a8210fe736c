"""What every sink shares: the metric rows it reads, the training step, the metric names.

A sink writes the metric rows of one completed job at one training step. The step comes
from a label of the job (``step_label="step"``: ``labels={"step": global_step}`` at
submit). A job without that label is not written under a guessed step: its write raises
:class:`StepLabelError` (the run logs it and keeps the job unwritten for that sink, so no
value is lost; :func:`check_step_labels` lets a run refuse such a submission up front).
``step_label=None`` opts out of labels: the step is then the job's ``seq`` (its
submission order).
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from .._closing import Closing
from .._exceptions import InvalidArgumentError, LmmsEvalError, MissingDependencyError
from .._text import shown

DEFAULT_METRIC_NAME = "eval/{task}/{metric}"
DEFAULT_STEP_LABEL = "step"
NO_FILTER = "none"  # lmms-eval's filter of a metric that has none ("acc,none")


@runtime_checkable
class MetricRowLike(Protocol):
    """The fields of a run's metric row that sinks read (a run's ``MetricRow`` has them).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Row:
        ...     seq: int
        ...     key: str | None
        ...     labels: dict[str, object]
        ...     model: str
        ...     task: str
        ...     metric: str
        ...     filter: str
        ...     value: float | None
        ...     stderr: float | None
        >>> isinstance(Row(1, None, {"step": 10}, "m", "mme", "acc", "none", 0.5, None),
        ...            MetricRowLike)
        True
    """

    @property
    def seq(self) -> int: ...
    @property
    def key(self) -> str | None: ...
    @property
    def labels(self) -> Mapping[str, Any]: ...
    @property
    def model(self) -> str | None: ...
    @property
    def task(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def filter(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def stderr(self) -> float | None: ...


class StepLabelError(InvalidArgumentError):
    """A job has no usable training step for a sink: its labels lack the sink's
    ``step_label``, or its value is not an integer.

    Attributes:
        seq: The job's seq in the run (None when checked before submitting).
        step_label: The label the sink reads the step from.
    """

    def __init__(self, message: str = "", *, seq: int | None = None, step_label: str = "") -> None:
        super().__init__(message)
        self.seq: int | None = seq
        self.step_label: str = step_label


class TrackerError(LmmsEvalError):
    """A tracker refused or failed a sink's write while exporting (``export_to``, ``runs
    export --to``); the message says which job and why, without the credentials of a
    tracking URI. (A run's delivery logs such failures and writes the job later instead.)

    Attributes:
        sink: The sink's name (``mlflow:<uri>:<run id>``...), or None if it was not known.
        seq: The job's seq in the run (None when the failure came before any job).
    """

    def __init__(self, message: str = "", *, sink: str | None = None, seq: int | None = None):
        super().__init__(message)
        self.sink: str | None = sink
        self.seq: int | None = seq


# The steps trackers store (MLflow's, TensorBoard's and W&B's are 64-bit integers): a
# label outside them would be refused by the tracker at every try.
_STEP_RANGE = range(-(2**63), 2**63)
_DECIMAL = re.compile(r"[+-]?[0-9]+")  # ASCII only: int() also reads "1_000" and "١٢"


def integer_step(value: Any) -> int | None:
    """The int64 a label holds (an int, an integral float, a decimal string), else None."""
    step: int | None = None
    if isinstance(value, bool):
        return None  # True is an int to Python, never a training step
    if isinstance(value, int):
        step = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        step = int(value)
    elif isinstance(value, str) and _DECIMAL.fullmatch(text := value.strip()):
        # (leading zeros dropped first: int() refuses more than 4,300 digits)
        digits = text.lstrip("+-").lstrip("0") or "0"
        if len(digits) > 19:  # past any int64
            return None
        step = -int(digits) if text.startswith("-") else int(digits)
    return step if step is not None and step in _STEP_RANGE else None


def _step_problem(labels: Mapping[str, Any], step_label: str) -> tuple[int | None, str]:
    """The step these labels hold, or None and what is wrong with them."""
    if step_label not in labels:
        return None, f"no label {step_label!r} (its labels: {sorted(labels)})"
    step = integer_step(labels[step_label])
    if step is None:
        return None, (
            f"label {step_label!r} = {shown(labels[step_label])}, not an integer (a 64-bit "
            "one, as trackers store steps)"
        )
    return step, ""


def step_of(labels: Mapping[str, Any], step_label: str | None, *, seq: int) -> int:
    """The training step of a job: ``int(labels[step_label])``, or its ``seq`` when
    ``step_label`` is None.

    Raises:
        StepLabelError: the label is missing or is not an integer.

    Example:
        >>> step_of({"step": 1200, "checkpoint": "ckpt-1200"}, "step", seq=3)
        1200
        >>> step_of({}, None, seq=3)
        3
    """
    if step_label is None:
        return seq
    step, problem = _step_problem(labels, step_label)
    if step is None:
        raise StepLabelError(
            f"Job {seq} has {problem}, so a sink cannot tell its training step. Submit "
            f"with labels={{{step_label!r}: global_step}} (an int), or give the sink "
            "another step_label (None: the job's seq; runs export: --step-label '').",
            seq=seq,
            step_label=step_label,
        )
    return step


def check_step_labels(sinks: Iterable[Sink], labels: Mapping[str, Any]) -> None:
    """Before a submission: raise :class:`StepLabelError` if a sink could not read its
    training step from these labels (so nothing is sent that no sink can place).

    Example:
        >>> from lmms_eval_client import CallbackSink
        >>> check_step_labels([CallbackSink(print)], {"step": 100})
    """
    for sink in sinks:
        if sink.step_label is None:
            continue
        step, problem = _step_problem(labels, sink.step_label)
        if step is None:
            raise StepLabelError(
                f"These labels have {problem}, and the run's {type(sink).__name__} reads the "
                f"training step from {sink.step_label!r}: pass "
                f"labels={{{sink.step_label!r}: global_step}} (an int) to submit().",
                step_label=sink.step_label,
            )


# A row's fields as a template may name them (metric_name), to try a template with.
_SAMPLE_FIELDS = {"task": "t", "metric": "m", "filter": "f", "model": "x", "key": "k"}


def check_template_labels(sinks: Iterable[Sink], labels: Mapping[str, Any]) -> None:
    """Before a submission: InvalidArgumentError if a sink's ``metric_name`` names a label
    (``{labels[NAME]}``) these labels lack: its job could never be written.

    Example:
        >>> from lmms_eval_client import TensorBoardSink
        >>> sink = TensorBoardSink("runs/evals", metric_name="{labels[ckpt]}/{task}/{metric}")
        >>> check_template_labels([sink], {"step": 100, "ckpt": "c1"})
    """
    for sink in sinks:
        if not isinstance(sink, TemplateSink):  # (a CallbackSink's function names its own)
            continue
        template = sink.metric_name
        try:
            template.format(**_SAMPLE_FIELDS, labels=labels)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            said = f"no {shown(exc.args[0])}" if isinstance(exc, KeyError) else "none it can use"
            raise InvalidArgumentError(
                f"The job's labels have {said} for the run's {type(sink).__name__}'s "
                f"metric_name={template!r} ({type(exc).__name__}): its values could never "
                "be written; give that label, or name the metrics without it."
            ) from None


def metric_name(template: str, row: MetricRowLike) -> str:
    """A row's metric name from a template with ``{task}``, ``{metric}``, ``{filter}``,
    ``{model}``, ``{key}`` and ``{labels[NAME]}``. A template without ``{filter}`` gets
    ``/<filter>`` appended when the row's filter is not ``none`` (``exact_match`` under
    two filters stays two series).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Row:
        ...     seq: int = 1
        ...     key: str | None = None
        ...     labels: dict[str, object] | None = None
        ...     model: str = "qwen2_vl"
        ...     task: str = "gsm8k"
        ...     metric: str = "exact_match"
        ...     filter: str = "strict-match"
        ...     value: float | None = 0.5
        ...     stderr: float | None = None
        >>> metric_name("eval/{task}/{metric}", Row())
        'eval/gsm8k/exact_match/strict-match'
        >>> metric_name("eval/{task}/{metric}", Row(filter="none"))
        'eval/gsm8k/exact_match'
    """
    name = template.format(
        task=row.task,
        metric=row.metric,
        filter=row.filter,
        model=row.model,
        key=row.key,
        labels=dict(row.labels or {}),
    )
    if "{filter}" not in template and row.filter and row.filter != NO_FILTER:
        name = f"{name}/{row.filter}"
    return name


def check_step_label(step_label: object) -> str | None:
    """A sink's ``step_label``: the name of the label holding the step, or None."""
    if step_label is not None and (not isinstance(step_label, str) or not step_label):
        raise InvalidArgumentError(
            f"step_label must be a label's name (a non-empty str) or None, got {step_label!r}"
        )
    return step_label


def check_template(template: str) -> None:
    """Raise InvalidArgumentError for a metric_name template that cannot be filled."""
    if not isinstance(template, str):
        raise InvalidArgumentError(f"metric_name must be a str, got {type(template).__name__}")
    try:
        template.format(**_SAMPLE_FIELDS, labels=_AnyLabels())
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise InvalidArgumentError(
            f"metric_name={template!r} cannot be filled ({type(exc).__name__}: {exc}): use "
            "the fields {task}, {metric}, {filter}, {model}, {key} and {labels[NAME]}."
        ) from None


class _AnyLabels(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return key


def values_of(rows: Sequence[MetricRowLike], template: str, *, stderr: bool) -> dict[str, float]:
    """The ``{name: value}`` a sink writes for one job: rows without a value are skipped
    (nothing to plot); with ``stderr``, ``<name>_stderr`` too."""
    values: dict[str, float] = {}
    source: dict[str, str] = {}  # name -> the value it holds, to refuse one name for two
    for row in rows:
        name = metric_name(template, row)
        what = f"{row.task} {row.metric},{row.filter}"
        if row.value is not None:
            values[name] = float(row.value)
            _one_name(source, name, what, template)
        if stderr and row.stderr is not None:
            values[f"{name}_stderr"] = float(row.stderr)
            _one_name(source, f"{name}_stderr", f"{what} stderr", template)
    return values


def _one_name(source: dict[str, str], name: str, what: str, template: str) -> None:
    """InvalidArgumentError if ``name`` already holds another value of the job: one of the
    two would be lost in silence."""
    if source.setdefault(name, what) != what:
        raise InvalidArgumentError(
            f"metric_name={template!r} names both {source[name]} and {what} {name!r}: one "
            "would be lost; put {task}, {metric} and {filter} in it (the default does)"
        )


def name_digest(name: str) -> str:
    """8 hex digits of a metric's name, which a sink appends to a name it had to change
    (a character its tracker refuses), so two names stay apart (``acc@1``, ``acc_1``)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def import_extra(module: str, *, feature: str, extra: str, package: str) -> ModuleType:
    """Import an optional tracker library, or raise MissingDependencyError naming its pip line."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{feature} needs {package}: pip install 'lmms-eval-client[{extra}]'",
            package=package,
            extra=extra,
        ) from None


class Sink(Closing, abc.ABC):
    """Where a run's metrics go: each completed job's rows are written once, at its step.

    ``name`` identifies the destination (the run's ledger records which jobs each name has
    written, so a resumed run neither skips nor repeats). ``write`` is called from one
    thread at a time; it may raise (a tracker down): the run logs it and writes the job
    again at its next poll. A sink is a context manager (``close()`` at the end).

    Example:
        >>> class Printer(Sink):
        ...     name = "printer"
        ...     step_label = "step"
        ...     def write(self, rows, step):
        ...         for row in rows:
        ...             print(step, row.task, row.metric, row.value)
    """

    #: The label holding the training step (None: the job's seq).
    step_label: str | None = DEFAULT_STEP_LABEL

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The destination's stable identity (e.g. ``mlflow:<uri>:<run_id>``), as recorded."""

    @abc.abstractmethod
    def write(self, rows: Sequence[MetricRowLike], step: int) -> None:
        """Write one job's metric rows at the training ``step`` (raise if they were not)."""

    def close(self) -> None:
        """Flush and release what the sink holds (a run it started, a file). Idempotent.

        Example:
            >>> with TensorBoardSink("runs/evals") as sink:  # doctest: +SKIP
            ...     export_to(sink, rows)  # closed at the end of the block
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} step_label={self.step_label!r}>"


class TemplateSink(Sink):
    """A tracker's sink: each value named by the ``metric_name`` template, at the step of
    ``step_label``, its stderr too with ``stderr=True`` (the options every tracker takes)."""

    def __init__(self, *, metric_name: str, step_label: str | None, stderr: bool) -> None:
        check_template(metric_name)
        self.metric_name = metric_name
        self.step_label = check_step_label(step_label)
        self.stderr = stderr

    def write(self, rows: Sequence[MetricRowLike], step: int) -> None:
        """Write one job's values, named by ``metric_name``, at ``step``; a job with no
        value writes nothing.

        Example:
            >>> sink.write(run_rows_of_one_job, step=1200)  # doctest: +SKIP
        """
        values = values_of(rows, self.metric_name, stderr=self.stderr)
        if values:
            self._write_values(values, step, rows)

    @abc.abstractmethod
    def _write_values(
        self, values: dict[str, float], step: int, rows: Sequence[MetricRowLike]
    ) -> None:
        """Write one job's named values (not empty) at ``step``; ``rows`` are its rows."""


def check_either(needs: str, first: object, second: object) -> None:
    """InvalidArgumentError unless exactly one of ``first`` and ``second`` is given (not
    None); ``needs`` begins the message: "XSink needs either ... or ..."."""
    if (first is None) == (second is None):
        raise InvalidArgumentError(f"{needs}, not {'both' if first is not None else 'neither'}.")
