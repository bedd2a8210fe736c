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
# A run the sink creates to continue by name is tagged, and settled by a param MLflow never
# changes (of two processes setting it, the first decides): "won" (every process writes to
# it) or "lost" (deleted by its maker before anything is written to it).
_MADE_BY, _MADE = "lmms_eval_client.sink", "MLflowSink"
_RACE, _WON, _LOST = "lmms_eval_client.run_name_race", "won", "lost"
_ROUNDS = 10  # of looking and settling, in a race with other processes


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


def _outcome(run: Any) -> str | None:
    """A run's outcome: "won" for one the sink did not create (a training run, a run made
    before runs were settled), else its ``_RACE`` param (None: not settled yet)."""
    if _MADE_BY not in run.data.tags:
        return _WON
    outcome = run.data.params.get(_RACE)
    return None if outcome is None else str(outcome)


class MLflowSink(TemplateSink):
    """Log each completed job's metrics to an MLflow run, at the job's training step.

    Give ``run_id`` (a run of yours, e.g. the training run's), or ``experiment`` (a name:
    created if missing) with an optional ``run_name``: the run of that name in the
    experiment, created if missing (without ``run_name``, a new run each time the sink is
    first used: pass ``run_name`` so a resumed process continues the same run). Processes
    that create it at the same moment write to one of their runs, the others deleted empty
    (a run the sink creates carries the tag ``lmms_eval_client.sink`` and the param
    ``lmms_eval_client.run_name_race``). The sink never ends a run. Metric names come from
    ``metric_name`` (see the trackers guide; characters MLflow refuses become ``_``);
    ``stderr=True`` also logs ``<name>_stderr``.

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
        """The run named ``run_name``, one for every process resolving it at once.

        MLflow has no unique run names: two processes finding no run of the name would each
        create one. A run the sink creates is tagged ``_MADE_BY`` and settled before anything
        is written to it, by a param MLflow never changes (``_RACE``: the first process to
        set it decides): one run "won", the others "lost", deleted by their makers.
        """
        client, experiment_id = self._client, self._experiment_id()
        if self.run_name is None:
            return str(client.create_run(experiment_id).info.run_id)
        made: list[str] = []  # runs this process created
        for _ in range(_ROUNDS):
            runs = self._runs_named(experiment_id, self.run_name)
            if all(_outcome(run) == _LOST for run in runs):  # none to write to or settle
                tags = {_MADE_BY: _MADE}
                run = client.create_run(experiment_id, run_name=self.run_name, tags=tags)
                made.append(str(run.info.run_id))
                continue
            chosen = self._settle(runs)
            if chosen is not None:
                break
        else:  # each round, another process made the run this one settled on lost
            raise RuntimeError(
                f"MLflow run {self.run_name!r}: not settled after {_ROUNDS} tries (other "
                "processes resolving the same run name at the same moment)"
            )
        for run_id in made:  # its own that lost: nothing was written to them
            if run_id != chosen and self._claim(run_id, _LOST) == _LOST:
                client.delete_run(run_id)
        return chosen

    def _settle(self, runs: list[Any]) -> str | None:
        """The run to write to: the first of those won (earliest start, then smallest id),
        else the first run not settled, once every other one is lost; None when another
        process made that one lost meanwhile (look again)."""
        won = [run.info.run_id for run in runs if _outcome(run) == _WON]
        if won:
            return str(won[0])
        first, *others = [run.info.run_id for run in runs if _outcome(run) is None]
        for other in others:  # lost before the first is won: a process seeing both agrees
            if self._claim(other, _LOST) == _WON:  # another process settled on it first
                return str(other)
        return str(first) if self._claim(first, _WON) == _WON else None

    def _claim(self, run_id: str, outcome: str) -> str:
        """The run's outcome: ``outcome``, unless another process set one first."""
        try:
            self._client.log_param(run_id, _RACE, outcome)
            return outcome
        except Exception:  # MLflow refuses to change a param: the one set first stands
            settled = self._client.get_run(run_id).data.params.get(_RACE)
            if settled is None:
                raise
            return str(settled)

    def _runs_named(self, experiment_id: str, run_name: str) -> list[Any]:
        """The experiment's active runs of that name, earliest start (then smallest id) first."""
        # MLflow's filter has no escape for a quote: quote with the one the name lacks,
        # else (it has both) compare the names here, a page of runs at a time.
        quote = next((q for q in ("'", '"') if q not in run_name), None)
        where = "" if quote is None else f"attributes.run_name = {quote}{run_name}{quote}"
        found: list[Any] = []
        token = None
        while True:
            runs = self._client.search_runs(
                [experiment_id], filter_string=where, max_results=1000, page_token=token
            )
            found += [run for run in runs if run.info.run_name == run_name]
            token = runs.token
            if not token:
                return sorted(found, key=lambda run: (run.info.start_time, run.info.run_id))

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
