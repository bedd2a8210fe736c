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

_BATCH = 1000  # MLflow's limit of metrics in one log_batch
# What MLflow accepts in a metric name; anything else (a comma, say) becomes "_".
_NOT_IN_NAME = re.compile(r"[^\w\-. :/]")
_MAX_KEY = 250  # MLflow's longest metric name


def _metric_key(name: str) -> str:
    """A metric name as MLflow takes it: its characters, a path that is its own normal form
    (no empty, ``.`` or ``..`` part, not starting with ``/`` or ``..``), at most 250
    characters; one changed (a character replaced, reshaped or cut) ends with a hash of the
    whole, so that two stay apart (``acc@1`` and ``acc_1``).

    >>> _metric_key("eval/a_b/c")
    'eval/a_b/c'
    >>> _metric_key("eval/a,b/c")
    'eval/a_b/c-df8025a7'
    >>> _metric_key("eval//a/../c/")
    'eval/a/__/c-0c5baae8'
    """
    named = _NOT_IN_NAME.sub("_", name)
    parts = [part for part in named.split("/") if part not in ("", ".")]
    key = "/".join("__" if part == ".." else part for part in parts)
    key = "_" + key if key.startswith("..") or not key else key
    if key != name or len(key) > _MAX_KEY:  # changed: its own, apart from a name like it
        key = f"{key[: _MAX_KEY - 9].rstrip('/.')}-{name_digest(name)}"
    return key


def _check_uri(uri: str) -> None:
    """InvalidArgumentError for a tracking URI that is no URL, or an http(s) one whose
    user:password holds an unencoded '/', '?', '#' or a space: MLflow would misread it, and
    the password could not be found to be masked (the part before a '#' would be taken for
    the host). Paths (``sqlite:///...``) and other schemes are MLflow's to judge."""
    refused = (
        "percent-encode its user name and password (a '/' as %2F, '?' as %3F, '#' as %23, "
        "a space as %20, '@' as %40)"
    )
    try:
        parts = urlsplit(uri)
        if parts.scheme.lower() in ("http", "https"):
            parts.port  # noqa: B018  (ValueError unless a number: "alice:s3/cr3t@host" splits at "/")
    except ValueError:  # (its text may quote the URI, password and all)
        raise InvalidArgumentError(f"tracking_uri is not a URL MLflow can use: {refused}") from None
    if any(ch.isspace() for ch in parts.netloc):
        raise InvalidArgumentError(f"tracking_uri must be one URL: {refused}")


def _without_credentials(uri: str) -> str:
    """The URI as recorded and shown: no user:password (the ledger and logs never hold it)."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _destination(uri: str) -> str:
    """The tracking server a URI names, spelt one way for one server (in a sink's name,
    which keys its writes in a run's ledger): no credentials, the scheme and host in lower
    case, no slash at the end of the path. A URI without a host is kept as given.

    >>> _destination("HTTP://u:p@Mlflow.Lan:5000/")
    'http://mlflow.lan:5000'
    """
    shown = _without_credentials(uri)
    parts = urlsplit(shown)
    if not parts.netloc:  # a path, sqlite:///..., databricks: as given (urlunsplit drops //)
        return shown
    lower = {"scheme": parts.scheme.lower(), "netloc": parts.netloc.lower()}
    return urlunsplit(parts._replace(path=parts.path.rstrip("/"), **lower))


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
        InvalidArgumentError: neither or both of ``run_id`` and ``experiment``, or
            ``run_name`` with ``run_id``; a ``tracking_uri`` that is no URL, or whose
            password is not percent-encoded.

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
        if run_id is not None and run_name is not None:
            raise InvalidArgumentError(
                "MLflowSink takes run_name= with experiment= (the run of that name); with "
                "run_id= it would be ignored"
            )
        if tracking_uri is None:  # MLflow would take its default: a database file here
            raise InvalidArgumentError("tracking_uri must be given, e.g. http://127.0.0.1:5000")
        check_names(
            tracking_uri=tracking_uri, run_id=run_id, experiment=experiment, run_name=run_name
        )
        _check_uri(tracking_uri)
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
        try:
            self._client: Any = mlflow.MlflowClient(tracking_uri=tracking_uri)
        except Exception as exc:  # an unknown scheme...: its message may quote the password
            shown = _without_credentials(tracking_uri)
            why = str(exc).replace(tracking_uri, shown)
            password = urlsplit(tracking_uri).password
            if password:
                why = why.replace(password, "***")
            raise InvalidArgumentError(
                f"MLflow cannot use tracking_uri {shown!r}: {type(exc).__name__}: {why}"
            ) from None
        self._stamps: dict[int, int] = {}  # a job's seq -> the timestamp of its points

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

    def _experiment_id(self) -> str:
        """The experiment's id, the experiment made if it is missing."""
        client, name = self._client, str(self.experiment)
        found = client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(client.create_experiment(name))
        except Exception:
            # another process made it between the look and the make (two watchers, two
            # exports): RESOURCE_ALREADY_EXISTS; it is there now, else the error stands
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    def _find_or_create_run(self) -> str:
        client = self._client
        experiment_id = self._experiment_id()
        if self.run_name is not None:
            found_id = self._run_named(experiment_id, self.run_name)
            if found_id is not None:
                return found_id
        run = client.create_run(experiment_id, run_name=self.run_name)
        return str(run.info.run_id)

    def _run_named(self, experiment_id: str, run_name: str) -> str | None:
        """The first run of that name in the experiment, or None."""
        # MLflow's filter has no escape for a quote: quote with the one the name lacks,
        # else (it has both) compare the names here, a page of runs at a time.
        quote = next((q for q in ("'", '"') if q not in run_name), None)
        where = "" if quote is None else f"attributes.run_name = {quote}{run_name}{quote}"
        token = None
        while True:
            runs = self._client.search_runs(
                [experiment_id],
                filter_string=where,
                order_by=["attributes.start_time ASC"],
                max_results=1 if quote is not None else 1000,
                page_token=token,
            )
            for run in runs:
                if run.info.run_name == run_name:
                    return str(run.info.run_id)
            token = runs.token
            if quote is not None or not token:
                return None

    @property
    def name(self) -> str:
        """``mlflow:<tracking URI without credentials, one spelling per server>:<run id>``.

        Example:
            >>> sink.name  # doctest: +SKIP
            'mlflow:http://127.0.0.1:5000:4f1c...'
        """
        return f"mlflow:{_destination(self.tracking_uri)}:{self.run_id}"

    def _write_values(
        self, values: dict[str, float], step: int, rows: Sequence[MetricRowLike]
    ) -> None:
        """``log_batch``, 1,000 values per call."""
        # One timestamp per job, the same at every try: MLflow stores an identical point
        # once, so a write it kept but whose answer was lost is not doubled by the retry.
        stamp = int(time.time() * 1000)
        if rows:
            stamp = self._stamps.setdefault(rows[0].seq, stamp)
        metrics = [
            self._entities.Metric(_metric_key(name), value, stamp, step)
            for name, value in values.items()
        ]
        for start in range(0, len(metrics), _BATCH):
            self._client.log_batch(self.run_id, metrics=metrics[start : start + _BATCH])

    def __repr__(self) -> str:
        where = self._run_id or f"experiment {self.experiment!r}"
        return f"<MLflowSink {_without_credentials(self.tracking_uri)} {where}>"
