"""The simulated evaluation: lmms-eval's naming and result files, the server's reading of them.

No FastAPI here: this is what one ``python -m lmms_eval`` run of the real server's worker
would leave behind, written directly, and the server's interpretation of it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import random
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lmms_eval_api.models import EvaluateRequest

from ._config import OUTCOMES, LocalServerConfig, Outcome, check_duration

SIM_DURATION = "sim_duration"
SIM_OUTCOME = "sim_outcome"
SIM_ERROR = "sim_error"
SIM_KEYS = frozenset({SIM_DURATION, SIM_OUTCOME, SIM_ERROR})

# lmms-eval's GeneralConfigTracker looks for these, in this order, as substrings of the
# comma-joined model_args string; the first found names the model (peft/delta come with
# pretrained, so they win).
_MODEL_NAME_KEYS = (
    "peft=",
    "delta=",
    "pretrained=",
    "model=",
    "model_version=",
    "model_name=",
    "model_id=",
    "path=",
    "engine=",
)
_UNSAFE_IN_NAMES = re.compile(r"[\"<>:/\|\\?\*\[\]]+")
# lmms-eval masks secret-looking model_args in the results' config: key=value pairs whose
# key ends in api_key/token/secret/password, and Hugging Face tokens anywhere.
_SECRET_PAIR = re.compile(r"(?i)(^|[,\s])(\w*(?:api_key|token|secret|password))=([^,\s]+)")
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")
_LOG_TAIL_LINES = 50  # what the real server quotes of the evaluation log
_CHOICES = "ABCD"


class EvaluationError(Exception):
    """The simulated evaluation failed; the message is the job's ``error``."""


def model_args_string(model_args: Mapping[str, Any] | None) -> str:
    """model_args as the server passes them to lmms-eval: ``k=v`` joined by commas.

    The local server's own ``sim_*`` keys are left out.
    """
    if not model_args:
        return ""
    return ",".join(f"{key}={value}" for key, value in model_args.items() if key not in SIM_KEYS)


def redact_secrets(text: str) -> str:
    """``text`` with secret-looking ``key=value`` values and HF tokens as ``[REDACTED]``."""
    return _HF_TOKEN.sub("[REDACTED]", _SECRET_PAIR.sub(r"\1\2=[REDACTED]", text))


def model_name_from_args(model_args: str) -> str:
    """The model name lmms-eval reads from a model_args string ("" when none is found).

    As lmms-eval: the first of ``peft=``, ``delta=``, ``pretrained=``, ``model=``,
    ``model_version=``, ``model_name=``, ``model_id=``, ``path=``, ``engine=`` that occurs
    anywhere in the string (``base_model=`` contains ``model=``), up to the next comma.
    """
    for key in _MODEL_NAME_KEYS:
        if key in model_args:
            return model_args.split(key)[1].split(",")[0]
    return ""


def sanitize_model_name(model_name: str) -> str:
    """lmms-eval's folder name for a model: its last two path parts, unsafe runs -> ``__``.

    ``"Qwen/Qwen2-VL-7B"`` -> ``"Qwen__Qwen2-VL-7B"``; ``"/data/org/x"`` -> ``"org__x"``.
    """
    parts = model_name.split("/")
    last_two = "/".join(parts[-2:]) if len(parts) > 1 else parts[-1]
    return _UNSAFE_IN_NAMES.sub("__", last_two)


def results_folder(model_args: Mapping[str, Any] | None) -> str:
    """The sub-folder of output_dir (and ``result`` key) lmms-eval files a run under.

    "" means none: the files land directly in output_dir, where the server does not look.
    """
    return sanitize_model_name(model_name_from_args(model_args_string(model_args)))


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


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()


def _fraction(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64


class EvaluationRun:
    """One simulated ``python -m lmms_eval`` run of the real server's worker.

    ``__init__`` does what happens before the evaluation (output and log paths), the caller
    waits ``plan.duration``, then ``finish()`` writes the outcome and returns the result.
    """

    def __init__(self, request: EvaluateRequest, config: LocalServerConfig) -> None:
        self.request = request
        self.config = config
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
        problem = self.lmms_eval_error()
        if problem is None:
            self.write_results()
        else:
            # lmms-eval prints the traceback, logs the error and still exits with status 0.
            self.log_traceback("ValueError", problem)
            self.log(
                "ERROR",
                f"Error during evaluation: {problem}. "
                "Please set `--verbosity=DEBUG` to get more information.",
            )
        result = read_output_dir(self.output_path)
        if not result:
            raise EvaluationError(
                f"Evaluation produced no parsed results. Last lines of {self.log_path}:\n"
                f"{self.tail()}"
            )
        return result

    def task_names(self) -> tuple[list[str], list[str]]:
        """The tasks the run evaluates and those lmms-eval would not find."""
        requested = ",".join(self.request.tasks).split(",")
        if not self.config.validate_names:
            found = [t for t in requested if t]
            return list(dict.fromkeys(found)), [t for t in requested if not t]
        known = self.config.tasks
        matched: list[str] = []
        for pattern in requested:
            matched.extend(name for name in known if pattern and fnmatch.fnmatchcase(name, pattern))
        matched = sorted(set(matched))
        missing = [t for t in requested if t not in matched and "*" not in t]
        return matched, missing

    def lmms_eval_error(self) -> str | None:
        """The error lmms-eval would raise before writing results, if any."""
        limit = self.request.limit
        if limit is not None and limit < 0 and limit != -1:
            return "--limit must be -1 or non-negative"
        _, missing = self.task_names()
        if missing:
            return (
                f"Tasks not found: {', '.join(missing)}. Try `lmms-eval --tasks "
                "{list_groups,list_subtasks,list_tags,list}` to list out all available names "
                "for task groupings; only (sub)tasks; tags; or all of the above, or pass "
                "'--verbosity DEBUG' to troubleshoot task registration issues."
            )
        models = self.config.models
        if self.config.validate_names and self.request.model not in models:
            return (
                f"Model '{self.request.model}' not found in available models: {', '.join(models)}"
            )
        if self.plan.outcome == "fail":
            return self.plan.error
        return None

    # -- the files ---------------------------------------------------------------------

    def docs_in(self, task: str) -> tuple[int, int]:
        """(original, effective) number of documents of a task, with ``limit`` applied."""
        original = self.config.docs_per_task or 10 + int(_fraction("docs", task) * 91)
        limit = self.request.limit
        if not limit or limit == -1:
            effective = original
        elif limit < 1:
            effective = math.ceil(original * limit)
        else:
            effective = min(int(limit), original)
        return original, effective

    def write_results(self) -> None:
        """Write ``<timestamp>_results.json`` and, with log_samples, the samples files."""
        request = self.request
        predict_only = request.predict_only
        log_samples = request.log_samples or predict_only  # as lmms-eval
        metric = "bypass" if predict_only else "exact_match"
        tasks, _ = self.task_names()
        n_shot = request.num_fewshot or 0
        folder = self.output_path / self.folder
        folder.mkdir(parents=True, exist_ok=True)

        results: dict[str, Any] = {}
        n_samples: dict[str, Any] = {}
        configs: dict[str, Any] = {}
        task_hashes: dict[str, str] = {}
        for task in tasks:
            original, effective = self.docs_in(task)
            seed = _digest(request.model, self.model_name, task)
            accuracy = int.from_bytes(seed[:8], "big") / 2**64
            n_correct = round(accuracy * effective)
            correct = set(random.Random(seed).sample(range(effective), n_correct))
            score = n_correct / effective
            if predict_only:
                task_results: dict[str, Any] = {"bypass,none": 999, "bypass_stderr,none": "N/A"}
            else:
                stderr: float | str = (
                    math.sqrt(score * (1 - score) / (effective - 1)) if effective > 1 else "N/A"
                )
                task_results = {"exact_match,none": score, "exact_match_stderr,none": stderr}
            results[task] = {"alias": task, **task_results}
            n_samples[task] = {"original": original, "effective": effective}
            configs[task] = {
                "task": task,
                "dataset_path": f"simulated/{task}",
                "test_split": "test",
                "output_type": "generate_until",
                "metric_list": [
                    {"metric": metric, "aggregation": "mean", "higher_is_better": True}
                ],
                "num_fewshot": n_shot,
                "metadata": {"version": 0.0, "simulated": True},
            }
            if log_samples:
                task_hashes[task] = self.write_samples(task, effective, correct, metric)

        ended = time.perf_counter()
        document: dict[str, Any] = {
            "results": results,
            "group_subtasks": {task: [] for task in reversed(tasks)},
            "configs": dict(sorted(configs.items())),
            "versions": {task: 0.0 for task in sorted(tasks)},
            "n-shot": {task: n_shot for task in sorted(tasks)},
            "higher_is_better": {task: {metric: True} for task in sorted(tasks)},
            "n-samples": n_samples,
            "config": {
                "model": request.model,
                "model_args": redact_secrets(self.model_args),
                "model_backend": "simulated (lmms_eval_client.testing)",
                "batch_size": str(request.batch_size) if request.batch_size else 1,
                "batch_sizes": [],
                "device": None,
                "use_cache": None,
                "limit": float(request.limit) if request.limit else None,
                "offset": 0,
                "bootstrap_iters": 100000,
                "gen_kwargs": request.gen_kwargs or "",
                "random_seed": 0,
                "numpy_seed": 1234,
                "torch_seed": 1234,
                "fewshot_seed": 1234,
            },
            "git_hash": None,
            "git_branch": None,
            "lmms_eval_version": "simulated by lmms_eval_client.testing",
            "date": self.date_id,
            "task_hashes": task_hashes,
            "model_source": request.model,
            "model_name": self.model_name,
            "model_name_sanitized": self.folder,
            "system_instruction": None,
            "system_instruction_sha": None,
            "fewshot_as_multiturn": False,
            "chat_template": None,
            "chat_template_sha": None,
            "start_time": self.started,
            "end_time": ended,
            "total_evaluation_time_seconds": str(ended - self.started),
        }
        path = folder / f"{self.date_id}_results.json"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        self.log("INFO", "Saving results aggregated")

    def write_samples(self, task: str, effective: int, correct: set[int], metric: str) -> str:
        """Append one task's samples (as lmms-eval, appending); return the task's hash."""
        path = self.output_path / self.folder / f"{self.date_id}_samples_{task}.jsonl"
        lines = []
        hashes = []
        for doc_id in range(effective):
            target = _CHOICES[int(_fraction("target", task, doc_id) * len(_CHOICES))]
            if doc_id in correct:
                answer = target
            else:
                answer = _CHOICES[(_CHOICES.index(target) + 1) % len(_CHOICES)]
            doc_hash = hashlib.sha256(f"{task}/{doc_id}".encode()).hexdigest()
            hashes.append(f"sample_{doc_id}{doc_hash}")
            sample = {
                "doc_id": doc_id,
                "target": target,
                "filtered_resps": answer,
                "token_counts": [None],
                "doc_hash": doc_hash,
                metric: None if metric == "bypass" else float(answer == target),
                "input": f"Simulated question {doc_id} of {task}. Answer with the letter.",
            }
            lines.append(json.dumps(sample, ensure_ascii=False) + "\n")
        with path.open("a", encoding="utf-8") as out:
            out.writelines(lines)
        self.log("INFO", f"Saving samples to {path}")
        return hashlib.sha256("".join(hashes).encode("utf-8")).hexdigest()
