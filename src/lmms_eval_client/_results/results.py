"""``EvalResults``: one ``<timestamp>_results.json`` of lmms-eval, typed.

Built against the files the real lmms-eval 0.7.3 server writes (tests/data). Unknown keys
are kept at every level, so a newer lmms-eval's file still loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from .bounded import DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_RESULTS_BYTES, check_limit
from .errors import MetricNotFoundError, SamplesNotFoundError, require, results_format_error
from .file_access import FileLocation, FileSystem, client_location
from .jsonparse import results_document
from .located import Detached, pickled_state, samples_beside
from .located import task_of_samples_file as task_of_samples_file  # files.py's import
from .metrics import (
    Metric,
    describe_metrics,
    format_table,
    metrics_frame,
    parse_task_metrics,
    split_key,
)
from .samples import Sample, iter_location
from .sections import (
    Efficiency,
    EvaluationConfig,
    LenientFloat,
    NSamples,
    TaskConfig,
    Throughput,
    Usage,
)
from .task_map import TRUSTED_JSON, Flags, Hashes, JsonObjects, Shots, Subtasks, TaskMap, Versions

if TYPE_CHECKING:
    import pandas


class EvalResults(BaseModel):
    """The results of one evaluation of one model: what lmms-eval wrote to
    ``<output_dir>/<model name>/<timestamp>_results.json``.

    Fields mirror the file's keys (``n-samples`` is ``n_samples``, ``n-shot`` is
    ``n_shot``); keys this model does not know are kept (``model_extra``), and any key can
    be read as in the file: ``results["n-samples"]``. ``metrics`` splits lmms-eval's
    ``"<metric>,<filter>"`` keys into :class:`Metric` rows with their stderr.

    >>> results = EvalResults.load("/srv/evals/a/stub-model/20261202_055237_results.json")
    >>> results.metric("e2e_arith", "exact_match").value
    0.8
    >>> print(results.table())
    Task      Filter n-shot Metric        Value     Stderr
    --------- ------ ------ ----------- - ------ - ------
    e2e_arith none        0 exact_match ↑ 0.8000 ± 0.2000
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="allow", populate_by_name=True, protected_namespaces=()
    )

    results: JsonObjects = Field(
        description='Per task and group, `{"<metric>,<filter>": value, ..., "alias": ...}` '
        "as in the file; `metrics` has them typed."
    )
    groups: JsonObjects = Field(
        default_factory=dict, description="The groups' entries (repeated from `results`)."
    )
    group_subtasks: Subtasks = Field(
        default_factory=dict,
        description="Each group's subtasks; a standalone task maps to `[]`.",
    )
    configs: TaskMap[TaskConfig] = Field(
        default_factory=lambda: TaskMap(TaskConfig, {}, "configs"),
        description="Each task's resolved configuration (validated when read).",
    )
    versions: Versions = Field(
        default_factory=dict, description="Each task's version (groups have none)."
    )
    n_shot: Shots = Field(
        default_factory=dict, alias="n-shot", description="Few-shot examples per task."
    )
    higher_is_better: Flags = Field(
        default_factory=dict, description="Per task and group, per metric: higher is better?"
    )
    n_samples: TaskMap[NSamples] = Field(
        default_factory=lambda: TaskMap(NSamples, {}, "n_samples"),
        alias="n-samples",
        description="Per task, documents in the split (`original`) and evaluated (`effective`).",
    )
    config: EvaluationConfig | None = Field(
        default=None, description="How the evaluation ran: model, model_args, limit, ..."
    )
    git_hash: str | None = Field(default=None, description="lmms-eval's git commit, if known.")
    git_branch: str | None = Field(default=None, description="lmms-eval's git branch, if known.")
    lmms_eval_version: str | None = Field(default=None, description="lmms-eval's version.")
    date: str | None = Field(
        default=None, description="The file's timestamp, `YYYYMMDD_HHMMSS` (server's timezone)."
    )
    throughput: Throughput | None = Field(default=None, description="Generation speed.")
    usage: Usage | None = Field(default=None, description="Token usage (API models).")
    efficiency: Efficiency | None = Field(default=None, description="Token efficiency.")
    task_hashes: Hashes = Field(default_factory=dict, description="A hash of each task's samples.")
    model_source: str | None = Field(default=None, description="The model type, e.g. `openai`.")
    model_name: str | None = Field(default=None, description="The model name from model_args.")
    model_name_sanitized: str | None = Field(
        default=None, description="The model name as a folder name (`org/x` is `org__x`)."
    )
    system_instruction: str | None = Field(default=None, description="The system prompt, if any.")
    system_instruction_sha: str | None = Field(default=None, description="Its hash.")
    fewshot_as_multiturn: bool | None = Field(
        default=None, description="Whether few-shot examples were sent as turns."
    )
    chat_template: str | None = Field(default=None, description="The chat template, if any.")
    chat_template_sha: str | None = Field(default=None, description="Its hash.")
    start_time: LenientFloat = Field(default=None, description="Start (monotonic clock, s).")
    end_time: LenientFloat = Field(default=None, description="End (monotonic clock, s).")
    total_evaluation_time_seconds: LenientFloat = Field(
        default=None, description="Duration in seconds (the file writes it as text)."
    )

    _task_metrics: dict[str, list[Metric]] = PrivateAttr(default_factory=dict)
    _location: FileLocation | None = PrivateAttr(default=None)
    _sample_files: dict[str, FileLocation] | None = PrivateAttr(default=None)

    def _metrics_of(self, task: str) -> list[Metric]:
        """The metrics of one task, split on first use (loading stays cheap).

        Threads that race here compute the same rows; the dict assignment is atomic.
        """
        rows = self._task_metrics.get(task)
        if rows is None:
            entry, is_group = self.results.get(task), self.is_group(task)
            better = self.higher_is_better.get(task)
            rows = []
            if entry is not None:
                rows = parse_task_metrics(task, entry, is_group=is_group, higher_is_better=better)
            self._task_metrics[task] = rows
        return rows

    @property
    def _metrics(self) -> list[Metric]:
        # _metrics_of's work for every task, its attributes looked up once (a private
        # attribute's lookup costs more than a task's metrics)
        done, groups, subtasks = self._task_metrics, self.groups, self.group_subtasks
        better = self.higher_is_better
        rows: list[Metric] = []
        for task, entry in self.results.items():
            own = done.get(task)
            if own is None:
                is_group = task in groups or bool(subtasks.get(task))
                own = done[task] = parse_task_metrics(
                    task, entry, is_group=is_group, higher_is_better=better.get(task)
                )
            rows += own
        return rows

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: bytes | str, *, path: str | None = None) -> EvalResults:
        """Parse the text of a results file; ``path`` names it in errors.

        Raises :class:`ResultsFormatError` for JSON that is truncated, corrupt or not the
        shape of an lmms-eval results file.
        """
        require("data", data, (bytes, bytearray, str), "the file's text (bytes or str)")
        where = path or "<results JSON>"
        document = results_document(data, where)  # parsed, then validated (TaskMap...)
        try:
            loaded = cls.model_validate(document, context=TRUSTED_JSON)
        except ValidationError as exc:
            raise results_format_error(exc, where) from None
        loaded.configs._path = loaded.n_samples._path = where  # for a bad entry, read later
        return loaded

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        filesystem: FileSystem | None = None,
        max_bytes: int = DEFAULT_MAX_RESULTS_BYTES,
    ) -> EvalResults:
        """Read a results file: a local path, an fsspec URL, or a path on ``filesystem``.

        The samples files beside it (``<same timestamp>_samples_<task>.jsonl``) are found
        when ``samples()`` asks for them. A file larger than ``max_bytes`` (256 MiB) raises
        :class:`ResultsTooLargeError`; a FIFO or device is refused, never opened.

        >>> results = EvalResults.load("out/stub-model/20261202_055237_results.json")
        >>> remote = EvalResults.load("sftp://gpu-box/scratch/evals/.../x_results.json")
        """
        return cls.from_location(client_location(path, filesystem), max_bytes=max_bytes)

    @classmethod
    def from_location(
        cls,
        location: FileLocation,
        *,
        sample_files: Mapping[str, FileLocation] | None = None,
        max_bytes: int = DEFAULT_MAX_RESULTS_BYTES,
    ) -> EvalResults:
        """Read the results file at ``location`` (at most ``max_bytes``); ``sample_files``
        maps tasks to their samples files when they are known (else they are looked for
        beside it)."""
        limit = check_limit("max_bytes", max_bytes)
        loaded = cls.from_json(location.read_bytes(limit), path=location.display)
        loaded._location = location
        loaded._sample_files = dict(sample_files) if sample_files is not None else None
        return loaded

    # -- where it came from -------------------------------------------------------------

    @property
    def path(self) -> str | None:
        """Where this machine read the file (a path or URL); None when parsed from text."""
        return self._location.display if self._location is not None else None

    @property
    def server_path(self) -> str | None:
        """The file's path on the server's disk, when it came from a job's result."""
        return self._location.server_path if self._location is not None else None

    # -- tasks, groups, metrics ---------------------------------------------------------

    @property
    def tasks(self) -> list[str]:
        """The tasks (not groups) in the file's order."""
        return [name for name in self.results if not self.is_group(name)]

    @property
    def group_names(self) -> list[str]:
        """The groups in the file's order."""
        return [name for name in self.results if self.is_group(name)]

    def is_group(self, name: str) -> bool:
        """Whether ``name`` is a group (it has subtasks) rather than a task."""
        return name in self.groups or bool(self.group_subtasks.get(name))

    def subtasks(self, group: str) -> list[str]:
        """A group's subtasks (``[]`` for a task or an unknown name)."""
        return list(self.group_subtasks.get(group, []))

    @property
    def metrics(self) -> list[Metric]:
        """Every metric of every task and group, in the file's order."""
        return list(self._metrics)

    def metric(self, task: str, name: str, filter: str = "none") -> Metric:
        """One metric: ``metric("e2e_arith", "exact_match")`` is ``exact_match,none``.

        ``name`` may also be the file's key, ``"exact_match,none"``. Raises
        :class:`MetricNotFoundError` (a KeyError) listing the available metrics.

        >>> results.metric("e2e_arith", "exact_match").stderr
        0.19999999999999998
        """
        for option, value in (("task", task), ("name", name), ("filter", filter)):
            require(option, value, str, "a str")
        name, filter = split_key(name, filter)  # the file's key names its filter
        own = self._metrics_of(task)
        for row in own:
            if row.name == name and row.filter == filter:
                return row
        if task in self.results:
            problem = f"task {task!r} has no metric {name},{filter}"
            candidates = own
        else:
            problem = f"no task or group {task!r}"
            candidates = self._metrics
        where = f" in {self.path}" if self.path else ""
        raise MetricNotFoundError(
            f"{problem}{where}. Available: {describe_metrics(candidates)}",
            task=task,
            name=name,
            filter=filter,
            available=[f"{m.task}: {m.key}" for m in candidates],
            path=self.path,
        )

    # -- samples ------------------------------------------------------------------------

    @property
    def sample_files(self) -> dict[str, str]:
        """The samples file of each task that has one (task -> path or URL here)."""
        return {task: loc.display for task, loc in self._find_sample_files().items()}

    def _find_sample_files(self) -> dict[str, FileLocation]:
        if self._sample_files is None:  # a benign race: every thread finds the same files
            self._sample_files = samples_beside(self._location)
        return self._sample_files

    def samples(
        self, task: str, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    ) -> Iterator[Sample]:
        """Stream the samples of ``task`` (constant memory), one :class:`Sample` a document.

        Raises :class:`SamplesNotFoundError` at once when the task has no samples file
        (``log_samples`` was off, or it is a group: its subtasks have them). A line longer
        than ``max_line_bytes`` (64 MiB) raises :class:`ResultsTooLargeError`.

        >>> wrong = [s for s in results.samples("e2e_arith") if s.metrics["exact_match"] < 1]
        """
        require("task", task, str, "a str (a task's name)")
        files = self._find_sample_files()
        location = files.get(task)
        if location is None:
            have = sorted(files)
            if self.is_group(task):
                subtasks = ", ".join(self.subtasks(task))
                why = f"{task!r} is a group: its subtasks have samples ({subtasks})"
            elif task not in self.results:
                why = f"no task {task!r} in these results"
            else:
                why = f"no samples file for {task!r} (was the job submitted with log_samples=True?)"
            raise SamplesNotFoundError(
                f"{why}; tasks with samples: {', '.join(have) or 'none'}",
                task=task,
                available=have,
                path=self.path,
            )
        if isinstance(location.filesystem, Detached):  # unpickled: the URL is not kept
            location.filesystem.refuse(location)
        names = {m.name for m in self._metrics_of(task)} or None
        return iter_location(location, metric_names=names, max_line_bytes=max_line_bytes)

    # -- presentation -------------------------------------------------------------------

    def table(self) -> str:
        """A compact text table of every metric, groups first as in the file.

        ``str(results)`` is the same table.
        """
        return format_table(self._metrics, n_shot=self.n_shot)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        model = self.model_name_sanitized or self.model_name
        return f"EvalResults(model={model!r}, tasks={list(self.results)!r}, path={self.path!r})"

    def to_pandas(self) -> pandas.DataFrame:
        """The metrics as a pandas DataFrame, one row per metric (needs the ``pandas`` extra).

        Columns: model, task, alias, is_group, metric, filter, value, stderr,
        higher_is_better, n_shot, n_samples (evaluated documents).

        >>> results.to_pandas().set_index(["task", "metric"])["value"]
        """
        model = self.model_name_sanitized or self.model_name
        shots = {t: n for t, n in self.n_shot.items() if isinstance(n, int)}
        counts = {t: n.effective for t, n in self.n_samples.items()}
        return metrics_frame(self._metrics, model=model, n_shot=shots, n_samples=counts)

    def __eq__(self, other: object) -> bool:
        """The same data: fields and extra keys (not where it was read, nor caches)."""
        if not isinstance(other, BaseModel):
            return NotImplemented
        return (
            type(self) is type(other)
            and self.__dict__ == other.__dict__
            and self.__pydantic_extra__ == other.__pydantic_extra__
        )

    def __getstate__(self) -> dict[Any, Any]:
        """Pickled without a remote location (its URL's password, its filesystem): the
        unpickled copy has the data, its samples are read from a new load."""
        return pickled_state(super().__getstate__())

    # -- read like the JSON -------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        """A top-level key as in the file (``"n-samples"``, ``"results"``, or a new key)."""
        for name, info in type(self).model_fields.items():
            if key in (name, info.alias):
                return getattr(self, name)
        extra = self.__pydantic_extra__ or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]``, or ``default`` when the file has no such key."""
        try:
            return self[key]
        except KeyError:
            return default
