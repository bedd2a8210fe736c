"""A sink that calls a function: anything without a sink of its own (a dashboard, a file)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._checks import check_names
from .._exceptions import InvalidArgumentError
from .base import (
    DEFAULT_METRIC_NAME,
    DEFAULT_STEP_LABEL,
    MetricRowLike,
    Sink,
    check_step_label,
    check_template,
)


class CallbackSink(Sink):
    """Calls ``fn(rows, step)`` with each completed job's metric rows and its training step.

    ``fn`` raising counts as a failed write: the run logs it and calls again with the same
    job at its next poll. ``name`` (default ``callback:<module>.<qualified name of fn>``)
    identifies the destination in the run's ledger: keep it stable across restarts, and
    give two callbacks with one function different names.

    Example:
        >>> from lmms_eval_client import CallbackSink
        >>> def log(rows, step):
        ...     for row in rows:
        ...         print(f"step {step}: {row.task}/{row.metric} = {row.value}")
        >>> sink = CallbackSink(log, step_label="global_step")
        >>> sink.name
        'callback:lmms_eval_client._trackers.callback_sink.log'
    """

    def __init__(
        self,
        fn: Callable[[Sequence[MetricRowLike], int], object],
        *,
        name: str | None = None,
        step_label: str | None = DEFAULT_STEP_LABEL,
        metric_name: str = DEFAULT_METRIC_NAME,
    ) -> None:
        check_template(metric_name)
        if not callable(fn):
            raise InvalidArgumentError(f"CallbackSink needs a callable, got {type(fn).__name__}")
        check_names(name=name)
        self.fn = fn
        self.step_label = check_step_label(step_label)
        self.metric_name = metric_name
        qualified = getattr(fn, "__qualname__", type(fn).__qualname__)
        self._name = name or f"callback:{getattr(fn, '__module__', None)}.{qualified}"

    @property
    def name(self) -> str:
        """``callback:<module>.<function>``, or the ``name`` given."""
        return self._name

    def write(self, rows: Sequence[MetricRowLike], step: int) -> None:
        """Call the function with the job's rows and its step.

        Example:
            >>> from lmms_eval_client import CallbackSink
            >>> CallbackSink(lambda rows, step: print(step, len(rows))).write([], 7)
            7 0
        """
        self.fn(rows, step)
