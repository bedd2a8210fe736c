"""Weights & Biases, step-safe: each value is plotted against a step metric of its own.

W&B keeps one step counter per run and drops a value logged with ``step=`` below it
("Steps must be monotonically increasing", wandb issues #6077 and #10628). Evaluation jobs
finish late and out of order, so this sink never passes ``step=``: it declares each metric
with ``define_metric(name, step_metric=...)`` (W&B's documented way to log out of order)
and logs the training step as that step metric's value in the same ``log`` call. The run's
own counter just advances; charts of these metrics use the step metric as their x-axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._checks import check_names
from .._exceptions import InvalidArgumentError
from .base import (
    DEFAULT_METRIC_NAME,
    DEFAULT_STEP_LABEL,
    MetricRowLike,
    TemplateSink,
    check_either,
    import_extra,
    name_digest,
)

DEFAULT_STEP_METRIC = "eval/step"


def _key(name: str) -> str:
    """A metric's name as W&B takes it: ``define_metric`` reads a ``*`` as a glob, so each
    becomes ``_``, the name then ending with a hash of the whole (names stay apart)."""
    return name if "*" not in name else f"{name.replace('*', '_')}-{name_digest(name)}"


class WandbSink(TemplateSink):
    """Log each completed job's metrics to a W&B run, against the job's training step.

    Give ``run`` (your training's ``wandb.init()`` run: the sink logs to it and leaves it
    open), or ``project`` (and optionally ``run_id``, ``entity``): the sink starts that run
    on first use (``resume="allow"``: a resumed process continues the run of that id) and
    finishes it at ``close()``. ``step_metric`` names the x-axis the eval metrics are
    plotted against (``eval/step``; your trainer's own step metric name works too).

    Each write is one ``run.log`` call that commits W&B's current step: on your training
    run, write between training steps (where you poll the run), not between two
    ``log(..., step=s)`` calls of one step (W&B would drop the second, below its step).

    Raises:
        MissingDependencyError: wandb is not installed (``pip install
            'lmms-eval-client[wandb]'``).
        InvalidArgumentError: neither or both of ``run`` and ``project``.

    Example:
        >>> import wandb
        >>> from lmms_eval_client import WandbSink
        >>> run = wandb.init(project="sft")  # doctest: +SKIP
        >>> sink = WandbSink(run)  # doctest: +SKIP
    """

    def __init__(
        self,
        run: Any = None,
        *,
        project: str | None = None,
        run_id: str | None = None,
        entity: str | None = None,
        step_metric: str = DEFAULT_STEP_METRIC,
        metric_name: str = DEFAULT_METRIC_NAME,
        step_label: str | None = DEFAULT_STEP_LABEL,
        stderr: bool = False,
    ) -> None:
        check_either(
            "WandbSink needs either a run (from wandb.init()) or project= (with run_id= "
            "to continue one run across restarts)",
            run,
            project,
        )
        if run is not None and not all(hasattr(run, name) for name in ("log", "id", "project")):
            raise InvalidArgumentError(
                f"WandbSink run must be a W&B run (from wandb.init()), got {type(run).__name__}"
            )
        check_names(project=project, run_id=run_id, entity=entity, step_metric=step_metric)
        super().__init__(metric_name=metric_name, step_label=step_label, stderr=stderr)
        self._wandb: Any = import_extra(
            "wandb", feature="WandbSink", extra="wandb", package="wandb"
        )
        self._run: Any = run
        self._owned = run is None
        self.project = project
        self.run_id = run_id
        self.entity = entity
        self.step_metric = step_metric
        self._defined: set[str] = set()

    @property
    def run(self) -> Any:
        """The W&B run written to (started on first use with ``project``).

        Example:
            >>> sink.run.id  # doctest: +SKIP
            'k2x8w1qe'
        """
        if self._run is None:
            self._run = self._wandb.init(
                project=self.project,
                entity=self.entity,
                id=self.run_id,
                resume="allow",
                # a run of its own beside the trainer's active one, which W&B would return
                # (the metrics then went into it, and close() finished it)
                reinit="create_new",
            )
        return self._run

    @property
    def name(self) -> str:
        """``wandb:<entity>/<project>/<run id>`` (the entity is empty offline).

        Example:
            >>> sink.name  # doctest: +SKIP
            'wandb:my-team/sft/k2x8w1qe'
        """
        run = self.run
        return f"wandb:{run.entity or ''}/{run.project}/{run.id}"

    def _write_values(
        self, values: dict[str, float], step: int, rows: Sequence[MetricRowLike]
    ) -> None:
        """One ``run.log`` call, with ``{step_metric: step}``."""
        keyed = {_key(name): value for name, value in values.items()}
        if self.step_metric in keyed:  # its value would replace the step
            raise InvalidArgumentError(
                f"metric_name={self.metric_name!r} names a value {self.step_metric!r}, the "
                "step metric's name: change metric_name or step_metric"
            )
        run = self.run
        if self.step_metric not in self._defined:
            run.define_metric(self.step_metric, hidden=False)
            self._defined.add(self.step_metric)
        for name in keyed:
            if name not in self._defined:
                # (define_metric is per process: a resumed run declares its names again)
                run.define_metric(name, step_metric=self.step_metric)
                self._defined.add(name)
        run.log({self.step_metric: step, **keyed})

    def close(self) -> None:
        """Finish the run if the sink started it (a run given to it stays open).

        Example:
            >>> WandbSink(project="evals", run_id="evals-1").close()  # doctest: +SKIP
        """
        if self._owned and self._run is not None:
            self._run.finish()
            self._run = None

    def __repr__(self) -> str:
        run = self._run
        where = f"run {run.id}" if run is not None else f"project {self.project!r}"
        return f"<WandbSink {where}>"
