"""LocalServerConfig: everything the local server can be told, with lmms-eval's defaults."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from typing import Literal

from ._gate import JobGate
from ._registry import lmms_eval_registry, resolve_offered

Outcome = Literal["complete", "fail", "crash"]
OUTCOMES: tuple[Outcome, ...] = ("complete", "fail", "crash")

# lmms-eval names its result files with `--timezone`, whose default is Asia/Singapore
# (UTC+8 all year since 1982); the server never passes the option.
LMMS_EVAL_TIMEZONE: tzinfo = timezone(timedelta(hours=8), "Asia/Singapore")

DEFAULT_JOB_DURATION = 1.0
DEFAULT_MAX_COMPLETED_JOBS = 100  # the real server's default
DEFAULT_TEMP_DIR_PREFIX = "lmms_eval_"  # the real server's default
DEFAULT_ERROR = "Simulated evaluation failure"

# What the local server offers by default: every task and model name of the pinned
# lmms-eval (registry.json, written from the installed package by codegen/build_registry.py).
DEFAULT_TASKS: tuple[str, ...] = lmms_eval_registry().task_names
DEFAULT_MODELS: tuple[str, ...] = lmms_eval_registry().models

# The keys of a request's model_args that steer its simulated evaluation.
SIM_DURATION = "sim_duration"
SIM_OUTCOME = "sim_outcome"
SIM_ERROR = "sim_error"
SIM_KEYS = frozenset({SIM_DURATION, SIM_OUTCOME, SIM_ERROR})


@dataclass(frozen=True)
class LocalServerConfig:
    """How the local lmms-eval-compatible server behaves.

    Attributes:
        job_duration: Seconds a simulated evaluation runs (per job; ``sim_duration`` in a
            request's model_args overrides it).
        outcome: How a job ends unless its model_args say otherwise (``sim_outcome``):
            ``"complete"`` writes lmms-eval result files; ``"fail"`` is an evaluation error
            that lmms-eval survives with exit status 0 (the server then reports
            "Evaluation produced no parsed results..."); ``"crash"`` is a non-zero exit
            ("Evaluation failed with return code 1...").
        error: The error the simulated evaluation raises when it fails or crashes
            (``sim_error`` in model_args overrides it).
        max_completed_jobs: Finished jobs kept in memory, as the real server's option.
        temp_dir_prefix: Prefix of the temporary output directory of a job without
            ``output_dir``, as the real server's option.
        temp_dir_root: Where those temporary directories are made; None: the system's
            temporary directory, as the real server (which never deletes them).
        tasks: What GET /tasks lists; also the tasks a job may name when
            ``validate_names`` is set. Default: every task name of the pinned lmms-eval
            (groups, subtasks and tags, which expand as in lmms-eval). Patterns
            (``"mmmu*"``) stand for the matching names of that registry; other names are
            offered as given (a name lmms-eval does not know is a plain task).
        models: What GET /models lists; also the models a job may name when
            ``validate_names`` is set (with lmms-eval's aliases of those). Default: every
            model of the pinned lmms-eval; patterns match its model names.
        tasks_error: When set, GET /tasks answers ``{"tasks": [], "error": tasks_error}``
            (status 200), as the real server does when it cannot index its tasks.
        models_error: The same for GET /models.
        validate_names: Fail a job naming a task or model not in ``tasks``/``models``, with
            lmms-eval's own error, as the real server does.
        docs_per_task: Documents in every simulated task; None: a fixed number between 10
            and 100 derived from the task's name. ``limit`` applies as in lmms-eval.
        results_timezone: Time zone of the timestamp in result file names; lmms-eval's
            default is Asia/Singapore (UTC+8). None: the server's local time.
        job_gate: When given, every job waits at this :class:`JobGate`, ``running``,
            until ``job_gate.release()`` (then runs for its duration): a test observes
            queued and running states without depending on timing.
    """

    job_duration: float = DEFAULT_JOB_DURATION
    outcome: Outcome = "complete"
    error: str = DEFAULT_ERROR
    max_completed_jobs: int = DEFAULT_MAX_COMPLETED_JOBS
    temp_dir_prefix: str = DEFAULT_TEMP_DIR_PREFIX
    temp_dir_root: str | os.PathLike[str] | None = None
    tasks: Sequence[str] = field(default=DEFAULT_TASKS)
    models: Sequence[str] = field(default=DEFAULT_MODELS)
    tasks_error: str | None = None
    models_error: str | None = None
    validate_names: bool = True
    docs_per_task: int | None = None
    results_timezone: tzinfo | None = LMMS_EVAL_TIMEZONE
    job_gate: JobGate | None = None

    def __post_init__(self) -> None:
        check_duration("job_duration", self.job_duration)
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        if not isinstance(self.error, str):
            raise TypeError(f"error must be a str, got {type(self.error).__name__}")
        if (
            isinstance(self.max_completed_jobs, bool)
            or not isinstance(self.max_completed_jobs, int)
            or self.max_completed_jobs < 1
        ):
            raise ValueError(
                f"max_completed_jobs must be a positive integer, got {self.max_completed_jobs!r}"
            )
        registry = lmms_eval_registry()
        for name, known in (("tasks", registry.task_names), ("models", registry.models)):
            names = _names(name, getattr(self, name))
            object.__setattr__(self, name, resolve_offered(name, names, known))
        for name in ("temp_dir_prefix", "tasks_error", "models_error"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value).__name__}")
        if not isinstance(self.validate_names, bool):
            raise TypeError(f"validate_names must be a bool, got {self.validate_names!r}")
        if self.results_timezone is not None and not isinstance(self.results_timezone, tzinfo):
            raise TypeError(
                f"results_timezone must be a tzinfo (e.g. zoneinfo.ZoneInfo('UTC')) or None, "
                f"got {self.results_timezone!r}"
            )
        if self.temp_dir_root is not None and isinstance(os.fspath(self.temp_dir_root), bytes):
            # (os.path.isdir takes bytes; every job's folder would then be "b'...'/...")
            raise TypeError(f"temp_dir_root must be a str or a path, got {self.temp_dir_root!r}")
        if self.temp_dir_root is not None and not os.path.isdir(self.temp_dir_root):
            raise ValueError(
                f"temp_dir_root must be an existing folder, got {self.temp_dir_root!r}"
            )
        if self.job_gate is not None and not isinstance(self.job_gate, JobGate):
            raise TypeError(f"job_gate must be a JobGate, got {type(self.job_gate).__name__}")
        if self.docs_per_task is not None and (
            isinstance(self.docs_per_task, bool)
            or not isinstance(self.docs_per_task, int)
            or self.docs_per_task < 1
        ):
            raise ValueError(
                f"docs_per_task must be a positive integer, got {self.docs_per_task!r}"
            )


def _names(kind: str, given: object) -> tuple[str, ...]:
    """``tasks``/``models`` as a tuple of names a job can give (read once: a generator)."""
    if isinstance(given, str) or not isinstance(given, Iterable):
        raise TypeError(f"{kind} must be a sequence of str, got {given!r}")
    names = tuple(given)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"{kind} must be a sequence of str, got {names!r}")
    for name in names:
        if not name or name != name.strip():
            raise ValueError(f"{kind} must be names without surrounding spaces, got {name!r}")
        if kind == "tasks" and "," in name:  # a job's tasks are split at commas
            raise ValueError(
                f"a task name holds no comma (a job's tasks are split at commas), got {name!r}"
            )
    return names


def check_duration(name: str, value: object) -> float:
    """``value`` as a finite, non-negative number of seconds, or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond any float: no finite number of seconds
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return seconds
