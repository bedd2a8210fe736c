"""LocalServerConfig: everything the local server can be told, with lmms-eval's defaults."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from typing import Literal

Outcome = Literal["complete", "fail", "crash"]
OUTCOMES: tuple[Outcome, ...] = ("complete", "fail", "crash")

# lmms-eval names its result files with `--timezone`, whose default is Asia/Singapore
# (UTC+8 all year since 1982); the server never passes the option.
LMMS_EVAL_TIMEZONE: tzinfo = timezone(timedelta(hours=8), "Asia/Singapore")

DEFAULT_JOB_DURATION = 1.0
DEFAULT_MAX_COMPLETED_JOBS = 100  # the real server's default
DEFAULT_TEMP_DIR_PREFIX = "lmms_eval_"  # the real server's default
DEFAULT_ERROR = "Simulated evaluation failure"

# Real lmms-eval 0.7.3 task and model names, enough to try the SDK with.
DEFAULT_TASKS: tuple[str, ...] = (
    "ai2d",
    "chartqa",
    "docvqa_val",
    "gqa",
    "mmbench_en_dev",
    "mme",
    "mmmu_val",
    "mmstar",
    "ocrbench",
    "pope",
    "realworldqa",
    "scienceqa_img",
    "seedbench",
    "textvqa_val",
    "videomme",
)
DEFAULT_MODELS: tuple[str, ...] = (
    "idefics2",
    "internvl2",
    "llava",
    "llava_hf",
    "llava_onevision",
    "openai",
    "phi3v",
    "qwen2_5_vl",
    "qwen2_vl",
    "qwen3_vl",
)


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
            ``validate_names`` is set.
        models: What GET /models lists; also the models a job may name when
            ``validate_names`` is set.
        tasks_error: When set, GET /tasks answers ``{"tasks": [], "error": tasks_error}``
            (status 200), as the real server does when it cannot index its tasks.
        models_error: The same for GET /models.
        validate_names: Fail a job naming a task or model not in ``tasks``/``models``, with
            lmms-eval's own error, as the real server does.
        docs_per_task: Documents in every simulated task; None: a fixed number between 10
            and 100 derived from the task's name. ``limit`` applies as in lmms-eval.
        results_timezone: Time zone of the timestamp in result file names; lmms-eval's
            default is Asia/Singapore (UTC+8). None: the server's local time.
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
        for name in ("tasks", "models"):
            names = getattr(self, name)
            if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                raise TypeError(f"{name} must be a sequence of str, got {names!r}")
            object.__setattr__(self, name, tuple(names))
        if self.docs_per_task is not None and (
            isinstance(self.docs_per_task, bool)
            or not isinstance(self.docs_per_task, int)
            or self.docs_per_task < 1
        ):
            raise ValueError(
                f"docs_per_task must be a positive integer, got {self.docs_per_task!r}"
            )


def check_duration(name: str, value: object) -> float:
    """``value`` as a finite, non-negative number of seconds, or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return seconds
