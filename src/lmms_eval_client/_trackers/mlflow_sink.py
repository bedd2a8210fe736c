"""MLflow: each job's metrics in one ``log_batch`` to a run, at the training step.

MLflow keeps every (step, value) of a metric whatever the order they arrive in, so a
late job's values land at their own step.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .base import (
    DEFAULT_METRIC_NAME,
    DEFAULT_STEP_LABEL,
    MetricRowLike,
    TemplateSink,
    check_either,
    import_extra,
)

_BATCH = 1000  # MLflow's limit of metrics in one log_batch
# What MLflow accepts in a metric name; anything else (a comma, say) becomes "_".
_NOT_IN_NAME = re.compile(r"[^\w\-. :/]")


def _without_credentials(uri: str) -> str:
    """The URI as recorded and shown: no user:password (the ledger and logs never hold it)."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class MLflowSink(TemplateSink):
    """Log each completed job's metrics to an MLflow run, at the job's training step.

    Give ``run_id`` (a run of yours, e.g. the training run's), or ``experiment`` (a name:
    created if missing) with an optional ``run_name``: the run of that name in the
    experiment, created if missing (without ``run_name``, a new run each time the sink is
    first used: pass ``run_name`` so a resumed process continues the same run). The sink
    never ends a run. Metric names come from ``metric_name`` (see the trackers guide; characters
    MLflow refuses become ``_``); ``stderr=True`` also logs ``<name>_stderr``.

    A tracking server that is down makes the MLflow client retry for a while before it
    raises (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_TIMEOUT``): lower
    them to keep a run's polls short; the run writes the job again at a later poll.

    Raises:
        MissingDependencyError: mlflow is not installed (``pip install
            'lmms-eval-client[mlflow]'``).
        InvalidArgumentError: neither or both of ``run_id`` and ``experiment``.

    Example:
        >>> from lmms_eval_client import MLflowSink
        >>> sink = MLflowSink(  # doctest: +SKIP
        ...     tracking_uri="http://127.0.0.1:5000", experiment="evals", run_name="qwen-sft"
        ... )
    """

    def __init__(
        self,
        *,
        tracking_uri: str,
        run_id: str | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        metric_name: str = DEFAULT_METRIC_NAME,
        step_label: str | None = DEFAULT_STEP_LABEL,
        stderr: bool = False,
    ) -> None:
        check_either(
            "MLflowSink needs either run_id= (an existing run) or experiment= (with "
            "run_name= to continue one run across restarts)",
            run_id,
            experiment,
        )
        super().__init__(metric_name=metric_name, step_label=step_label, stderr=stderr)
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_name = run_name
        self._run_id = run_id
        mlflow = import_extra(
            "mlflow.tracking", feature="MLflowSink", extra="mlflow", package="mlflow"
        )
        self._entities: Any = import_extra(
            "mlflow.entities", feature="MLflowSink", extra="mlflow", package="mlflow"
        )
        self._client: Any = mlflow.MlflowClient(tracking_uri=tracking_uri)

    @property
    def run_id(self) -> str:
        """The MLflow run written to (found or created on first use with ``experiment``).

        Example:
            >>> sink.run_id  # doctest: +SKIP
            '4f1c...'
        """
        if self._run_id is None:
            self._run_id = self._find_or_create_run()
        return self._run_id

    def _find_or_create_run(self) -> str:
        client, name = self._client, str(self.experiment)
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
        if self.run_name is not None:
            quoted = self.run_name.replace("'", "\\'")
            runs = client.search_runs(
                [experiment_id],
                filter_string=f"attributes.run_name = '{quoted}'",
                order_by=["attributes.start_time ASC"],
                max_results=1,
            )
            if runs:
                return str(runs[0].info.run_id)
        run = client.create_run(experiment_id, run_name=self.run_name)
        return str(run.info.run_id)

    @property
    def name(self) -> str:
        """``mlflow:<tracking URI without credentials>:<run id>``.

        Example:
            >>> sink.name  # doctest: +SKIP
            'mlflow:http://127.0.0.1:5000:4f1c...'
        """
        return f"mlflow:{_without_credentials(self.tracking_uri)}:{self.run_id}"

    def write(self, rows: Sequence[MetricRowLike], step: int) -> None:
        """Log one job's metric values at ``step`` (``log_batch``, 1,000 per call).

        Example:
            >>> sink.write(run_rows_of_one_job, step=1200)  # doctest: +SKIP
        """
        values = self._values(rows)
        now = int(time.time() * 1000)
        metrics = [
            self._entities.Metric(_NOT_IN_NAME.sub("_", name), value, now, step)
            for name, value in values.items()
        ]
        for start in range(0, len(metrics), _BATCH):
            self._client.log_batch(self.run_id, metrics=metrics[start : start + _BATCH])

    def __repr__(self) -> str:
        where = self._run_id or f"experiment {self.experiment!r}"
        return f"<MLflowSink {_without_credentials(self.tracking_uri)} {where}>"
