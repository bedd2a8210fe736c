"""The simulated evaluation: one run of the real server's worker, and the server's reading of it.

No FastAPI here: this is what one ``python -m lmms_eval`` run would do (select and load its
tasks, fail the way lmms-eval fails, log) and leave behind (``_results`` writes the files),
and how the server turns an output folder into a job's ``result``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lmms_eval_api.models import EvaluateRequest

from .._results.naming import model_name_from_args, sanitize_model_name
from ._config import (
    OUTCOMES,
    SIM_DURATION,
    SIM_ERROR,
    SIM_OUTCOME,
    LocalServerConfig,
    Outcome,
    check_duration,
)
from ._naming import model_args_string
from ._registry import Registry, is_pattern, lmms_eval_registry, match_names
from ._results import ResultsWriter
from ._results_config import RunFacts
from ._task_tree import TaskLoadError, TaskNode, load_tasks

_LOG_TAIL_LINES = 50  # what the real server quotes of the evaluation log


class EvaluationError(Exception):
    """The simulated evaluation failed; the message is the job's ``error``."""


@dataclass(frozen=True)
class SimulationPlan:
    """How one job's simulated evaluation goes: its duration, outcome and error text."""

    duration: float
    outcome: Outcome
    error: str

    @classmethod
    def for_request(
        cls, model_args: Mapping[str, Any] | None, config: LocalServerConfig
    ) -> SimulationPlan:
        """The server's defaults, overridden by the ``sim_*`` keys of model_args.

        Raises:
            EvaluationError: A ``sim_*`` value is invalid.
        """
        args = model_args or {}
        duration = config.job_duration
        outcome: Outcome = config.outcome
        error = config.error
        if SIM_DURATION in args:
            raw = args[SIM_DURATION]
            try:
                value = float(raw) if isinstance(raw, str) else raw
                duration = check_duration(SIM_DURATION, value)
            except ValueError as exc:
                raise EvaluationError(
                    f"lmms_eval_client.testing: invalid model_args {SIM_DURATION}={raw!r}: "
                    "expected a number of seconds >= 0"
                ) from exc
        if SIM_ERROR in args:
            error = str(args[SIM_ERROR])
            outcome = "fail"
        if SIM_OUTCOME in args:
            raw = args[SIM_OUTCOME]
            wanted = raw.strip().lower() if isinstance(raw, str) else raw
            for known in OUTCOMES:
                if wanted == known:
                    outcome = known
                    break
            else:
                raise EvaluationError(
                    f"lmms_eval_client.testing: invalid model_args {SIM_OUTCOME}={raw!r}: "
                    f"expected one of {', '.join(OUTCOMES)}"
                )
        return cls(duration, outcome, error)


def read_output_dir(output_path: Path) -> dict[str, dict[str, Any]]:
    """What the real server reports as ``result``: ``{folder: {"results", "samples"}}``.

    Only sub-folders of output_path count; in each, the files of the latest timestamp.
    """
    if not output_path.is_dir():
        return {}
    found: dict[str, dict[str, Any]] = {}
    for model_dir in sorted(output_path.iterdir()):
        if not model_dir.is_dir():
            continue
        runs: dict[str, dict[str, Any]] = {}
        for file in model_dir.glob("*_results.json"):
            stamp = file.name.split("_results.json")[0]
            runs.setdefault(stamp, {"results": None, "samples": []})["results"] = str(file)
        for file in sorted(model_dir.glob("*_samples_*.jsonl")):
            stamp = file.name.split("_samples_")[0]
            runs.setdefault(stamp, {"results": None, "samples": []})["samples"].append(str(file))
        if runs:
            found[model_dir.name] = runs[max(runs)]
    return found


def select_tasks(requested: list[str], config: LocalServerConfig) -> tuple[list[str], list[str]]:
    """(the names a run evaluates, those lmms-eval would not find), as its CLI selects them.

    Every requested name (entries may hold several, comma-separated) is matched against the
    offered tasks; patterns (``mmmu_*``) select what they match and are never "not found".
    With ``validate_names`` off, a plain name is taken as it is.
    """
    names = ",".join(requested).split(",")
    matched = match_names(names, config.tasks)
    if not config.validate_names:
        plain = [n for n in names if n and not is_pattern(n) and n not in matched]
        return sorted({*matched, *plain}), [n for n in names if not n]
    return matched, [n for n in names if n not in matched and "*" not in n]


def accepted_models(config: LocalServerConfig, registry: Registry) -> list[str]:
    """The model names a run accepts: the offered ones and lmms-eval's aliases of them."""
    offered = set(config.models)
    aliases = {alias for alias, target in registry.model_aliases.items() if target in offered}
    return sorted(offered | aliases)


class EvaluationRun:
    """One simulated ``python -m lmms_eval`` run of the real server's worker.

    ``__init__`` does what happens before the evaluation (output and log paths), the caller
    waits ``plan.duration``, then ``finish()`` writes the outcome and returns the result.
    """

    def __init__(self, request: EvaluateRequest, config: LocalServerConfig) -> None:
        self.request = request
        self.config = config
        self.registry = lmms_eval_registry()
        self.plan = SimulationPlan.for_request(request.model_args, config)
        if request.output_dir:
            self.output_path = Path(request.output_dir)
        else:
            root = None if config.temp_dir_root is None else str(config.temp_dir_root)
            self.output_path = Path(tempfile.mkdtemp(prefix=config.temp_dir_prefix, dir=root))
        self.log_path = self.output_path / f"eval-{datetime.now():%Y%m%d-%H%M%S}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("", encoding="utf-8")
        self.date_id = datetime.now(config.results_timezone).strftime("%Y%m%d_%H%M%S")
        self.started = time.perf_counter()
        self.model_args = model_args_string(request.model_args)
        self.model_name = model_name_from_args(self.model_args)
        self.folder = sanitize_model_name(self.model_name)
        self.log("INFO", "Simulated lmms-eval run (lmms_eval_client.testing): no model is loaded")
        self.log("INFO", f"Model: {request.model}, tasks: {request.tasks}")

    # -- the log -----------------------------------------------------------------------

    def log(self, level: str, message: str) -> None:
        """Append one loguru-like line to the evaluation log."""
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        line = f"{stamp} | {level:<8} | lmms_eval_client.testing:simulate - {message}\n"
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(line)

    def log_traceback(self, exc_type: str, message: str) -> None:
        """Append a Python traceback ending in ``exc_type: message``."""
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(
                "Traceback (most recent call last):\n"
                '  File "<simulated lmms_eval run>", in cli_evaluate_single\n'
                f"{exc_type}: {message}\n"
            )

    def tail(self) -> str:
        """The last lines of the log, as the real server quotes them."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(log file unreadable)"
        return "\n".join(text.splitlines()[-_LOG_TAIL_LINES:])

    # -- the outcome -------------------------------------------------------------------

    def finish(self) -> dict[str, dict[str, Any]]:
        """Write what the run leaves behind; return the job's ``result``.

        Raises:
            EvaluationError: The run failed; the message is what the real server reports.
        """
        if self.plan.outcome == "crash":
            self.log_traceback("RuntimeError", self.plan.error)
            raise EvaluationError(
                f"Evaluation failed with return code 1. Last lines of {self.log_path}:\n"
                f"{self.tail()}"
            )
        try:
            forest = self.load()
        except (TaskLoadError, ValueError) as exc:
            # lmms-eval prints the traceback, logs the error and still exits with status 0.
            kind = exc.exc_type if isinstance(exc, TaskLoadError) else "ValueError"
            self.log_traceback(kind, str(exc))
            self.log(
                "ERROR",
                f"Error during evaluation: {exc}. "
                "Please set `--verbosity=DEBUG` to get more information.",
            )
        else:
            ResultsWriter(self.facts(), self.log).write(forest)
        result = read_output_dir(self.output_path)
        if not result:
            raise EvaluationError(
                f"Evaluation produced no parsed results. Last lines of {self.log_path}:\n"
                f"{self.tail()}"
            )
        return result

    def load(self) -> list[TaskNode]:
        """The run's task tree, or the error lmms-eval would raise before writing results.

        Raises:
            ValueError: A bad limit, tasks not found, an unknown model, a simulated failure.
            TaskLoadError: A group that cannot be loaded (lmms-eval: a KeyError).
        """
        limit = self.request.limit
        if limit is not None and limit < 0 and limit != -1:
            raise ValueError("--limit must be -1 or non-negative")
        names, missing = select_tasks(self.request.tasks, self.config)
        if missing:
            raise ValueError(
                f"Tasks not found: {', '.join(missing)}. Try `lmms-eval --tasks "
                "{list_groups,list_subtasks,list_tags,list}` to list out all available names "
                "for task groupings; only (sub)tasks; tags; or all of the above, or pass "
                "'--verbosity DEBUG' to troubleshoot task registration issues."
            )
        models = accepted_models(self.config, self.registry)
        if self.config.validate_names and self.request.model not in models:
            raise ValueError(
                f"Model '{self.request.model}' not found in available models: {', '.join(models)}"
            )
        forest = load_tasks(names, self.registry)
        if self.plan.outcome == "fail":
            raise ValueError(self.plan.error)
        return forest

    def facts(self) -> RunFacts:
        """What the results files depend on, besides the tasks."""
        model_id = self.registry.model_id(self.request.model)
        return RunFacts(
            request=self.request,
            config=self.config,
            model_args=self.model_args,
            model_name=self.model_name,
            folder_name=self.folder,
            output_path=self.output_path,
            date_id=self.date_id,
            started=self.started,
            backend=None if model_id is None else self.registry.backends.get(model_id),
        )
