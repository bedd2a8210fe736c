"""Argument checks and request bodies: what is refused before anything is sent.

``evaluate()`` sends only the options that were set: every None is left out of the body,
so the server applies its own defaults.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

from .._checks import check_path, job_id_problem, text_problem
from .._exceptions import InvalidArgumentError
from .._results.naming import MODEL_NAME_KEYS
from .._text import clip, shown
from .json_args import _NUL_SAID, json_object

if TYPE_CHECKING:
    from lmms_eval_api.models import EvaluateRequest, MergeRequest

# The checkpoint kinds merge() accepts: the regular weights or their EMA.
CheckpointType = Literal["regular", "ema"]


def check_job_id(job_id: object) -> str:
    """A job id that is safe to put in a path segment (it is percent-encoded there)."""
    if not isinstance(job_id, str):
        raise InvalidArgumentError(f"job_id must be a str, got {type(job_id).__name__}")
    problem = job_id_problem(job_id)
    if problem:
        raise InvalidArgumentError(f"job_id {clip(job_id, 80)!r} is not a job id: {problem}")
    return job_id


# The largest count any option takes: beyond it an int is surely a mistake (and 10**5000
# cannot even be written as JSON by Python's default limits).
MAX_COUNT = 2**63 - 1
_INT_TEXT = re.compile(r"-?[0-9]{1,19}")
_NUMBER_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _int_option(name: str, value: object, minimum: int) -> int:
    """An int option; a numeric str (as the server's pydantic coerced it) becomes an int."""
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {shown(value)}")
    if not minimum <= value <= MAX_COUNT:
        raise InvalidArgumentError(f"{name} must be in {minimum}..{MAX_COUNT}, got {shown(value)}")
    return value


def _limit_option(value: object) -> int | float:
    """lmms-eval's limit: a count, a fraction in (0, 1), or -1 for all samples."""
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        value = float(value) if any(c in value for c in ".eE") else int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"limit must be a number, got {shown(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if number >= 1 and math.isfinite(number) and not number.is_integer():
        raise InvalidArgumentError(  # (lmms-eval would cut 1.5 to a count of 1, in silence)
            f"limit must be a count (> 0), a fraction in (0, 1), or -1 for all samples; got "
            f"{shown(value)}, neither a whole count nor a fraction under 1"
        )
    if value == -1 or (math.isfinite(number) and 0 < number <= MAX_COUNT):
        return value
    raise InvalidArgumentError(
        f"limit must be a count (> 0), a fraction in (0, 1), or -1 for all samples; "
        f"got {shown(value)}"
    )


# lmms-eval's batch sizes as text (its --batch_size): "N", "auto" or "auto:N"; the N.
_BATCH_COUNT = re.compile(r"\s*(?:auto\s*:\s*)?([-+]?)([0-9]+)\s*", re.IGNORECASE)


def _check_batch_size(value: int | str) -> None:
    """A batch size of at least 1: an int, or lmms-eval's text forms ("8", "auto:4"), whose
    N is at least 1 too; other text is sent as given ("auto", or a model's own form). The
    server drops a 0 in silence (batch size 1), and lmms-eval's models cannot batch by -3."""
    if isinstance(value, int):
        below = value < 1
        if value > MAX_COUNT:
            raise InvalidArgumentError(f"batch_size must be in 1..{MAX_COUNT}, got {shown(value)}")
    else:  # (its digits read without int(): a str of 5,000 digits is no int to Python)
        found = _BATCH_COUNT.fullmatch(value)
        below = found is not None and (found[1] == "-" or not found[2].strip("0"))
    if below:
        raise InvalidArgumentError(
            "batch_size must be at least 1: a count, 'auto', or 'auto:N' with N >= 1; got "
            f"{shown(value)}"
        )


def _check_utf8(name: str, value: str) -> None:
    """Reject strings that cannot go on the wire (``text_problem``)."""
    problem = text_problem(value)
    if problem:
        raise InvalidArgumentError(f"{name} is {problem}")


def _check_text(name: str, value: str) -> None:
    """A request's text: it goes on the wire and is stored with the job (no NUL). A job id
    is the server's own, any text: only ``_check_utf8``."""
    _check_utf8(name, value)
    if "\x00" in value:
        raise InvalidArgumentError(f"{name} {_NUL_SAID}")


def _check_str(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {shown(value)}")
    _check_text(name, value)


def _path_str(name: str, value: object) -> str | None:
    """A path option as the str the server expects (str and os.PathLike accepted)."""
    if value is None:
        return None
    path = check_path(name, value)
    _check_text(name, path)
    return path


def check_server_dir(name: str, path: str) -> str:
    """A folder on the server's disk (``name`` names the argument), as the server reads it:
    absolute, for a POSIX server or a Windows one (``C:\\evals``, ``\\\\share\\evals``). A
    relative one would be resolved against the server's working folder, while this client
    reads the job's files (results, logs) relative to its own.

    >>> check_server_dir("output_dir", "/scratch/evals/run-1")
    '/scratch/evals/run-1'
    """
    if not (PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute()):
        home = " (nor does it expand ~)" if path.startswith("~") else ""
        raise InvalidArgumentError(
            f"{name} must be absolute (e.g. /scratch/evals): it names a folder on the "
            "server's disk, and the server would resolve a relative one against its own "
            f"working folder{home}; got {clip(path, 80)!r}"
        )
    return path


def check_task_names(entries: Sequence[str], name: str = "tasks") -> list[str]:
    """The task names lmms-eval reads from ``entries`` (non-empty strs): the server joins
    them with commas and lmms-eval splits them again, so an entry may hold several.

    InvalidArgumentError (``name`` names the argument) for an empty name, which the real
    server reports as "Tasks not found: " once the job has started, and for a name given
    twice (lmms-eval evaluates it once: a mistake, as is the second name meant instead).

    >>> check_task_names(["mme", "mmmu_val, ai2d"])
    ['mme', 'mmmu_val', 'ai2d']
    """
    names: dict[str, None] = {}
    for entry in entries:
        for part in entry.split(","):
            task = part.strip()
            if not task:
                raise InvalidArgumentError(
                    f"{name}: {clip(entry, 80)!r} holds an empty task name (lmms-eval splits "
                    "tasks at commas): remove the comma too many"
                )
            if task in names:
                raise InvalidArgumentError(
                    f"{name}: task {clip(task, 80)!r} is given twice: give each task once"
                )
            names[task] = None
    return list(names)


class ModelNameWarning(UserWarning):
    """model_args has no key from which lmms-eval can name the results (e.g. ``pretrained``).

    The real server then finds no results and reports the job failed ("no parsed results")
    although the evaluation ran.
    """


def _warn_without_model_name(model_args: Mapping[str, Any] | None) -> None:
    # lmms-eval looks for "<name>=" in "k=v,...": a key ending in a name key matches too.
    keys = list(model_args or {})
    if not any(str(key).endswith(name) for key in keys for name in MODEL_NAME_KEYS):
        warnings.warn(
            "model_args names no model (none of "
            f"{', '.join(MODEL_NAME_KEYS)}): lmms-eval cannot name the results folder, and "
            "the server will report the job failed with 'no parsed results'. Pass e.g. "
            "model_args={'pretrained': 'org/model'}.",
            ModelNameWarning,
            stacklevel=4,
        )


def _output_dir(output_dir: object) -> str | None:
    path = _path_str("output_dir", output_dir)
    return None if path is None else check_server_dir("output_dir", path)


def build_evaluate_request(
    # <params request extra_body>
    model: str,
    tasks: Sequence[str] | str,
    model_args: Mapping[str, Any] | None = None,
    num_fewshot: int | None = None,
    batch_size: int | str | None = None,
    device: str | None = None,
    limit: int | float | None = None,
    gen_kwargs: str | None = None,
    log_samples: bool | None = True,
    predict_only: bool | None = False,
    num_gpus: int | None = 1,
    output_dir: str | os.PathLike[str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    # </params>
    *,
    warn: bool = True,
) -> EvaluateRequest:
    """Check evaluate()'s arguments and build the request body, leaving out every None option.

    Its parameters are those of evaluate() (``evaluate_params``), with the same defaults;
    ``warn=False``: checked only (the command line checks its options as it parses them;
    the client warns when it sends).

    Args:
        model: lmms-eval model type, e.g. "qwen2_vl" (see ``list_models()``).
        tasks: Task names, e.g. ["mmmu_val"]; a single str is taken as one task.
        model_args: Model arguments, e.g. {"pretrained": "Qwen/Qwen2-VL-7B-Instruct"}. The result
            files are filed under the model name lmms-eval derives from them (``pretrained``,
            ``model``, ...).
        num_fewshot: Number of few-shot examples (>= 0).
        batch_size: Batch size, an int or a string such as "auto".
        device: Device to run on, e.g. "cuda:0".
        limit: Examples per task: a count (> 0), a fraction in (0, 1), or -1 for all (as lmms-eval's
            CLI takes it). A numeric str such as "8" is read as its number.
        gen_kwargs: Generation kwargs, e.g. "temperature=0,max_new_tokens=64".
        log_samples: Write per-sample outputs.
        predict_only: Only generate predictions, skip metrics.
        num_gpus: Number of GPUs to use (>= 1).
        output_dir: Results folder on the server's disk. Default: a fresh one under ``output_root``
            when one is set (each job its own), else a fresh temporary one the server picks.
        extra_body: Fields of a newer server that this client's contract does not know yet, sent as
            given (JSON values; never a field that has a parameter here).
        warn: Warn (ModelNameWarning) when model_args names no model.
    """
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError(f"model must be a non-empty str, got {model!r}")
    _check_text("model", model)
    if isinstance(tasks, str):
        task_list: list[Any] = [tasks]
    elif isinstance(tasks, Sequence) and not isinstance(tasks, (bytes, bytearray)):
        task_list = list(tasks)
    else:
        raise InvalidArgumentError(
            f"tasks must be a list of task names (or one name as a str), got {type(tasks).__name__}"
        )
    if not task_list:
        raise InvalidArgumentError("tasks must name at least one task")
    for task in task_list:
        if not isinstance(task, str) or not task:
            raise InvalidArgumentError(f"every task must be a non-empty str, got {task!r}")
        if not any(name.strip() for name in task.split(",")):  # lmms-eval splits at commas
            raise InvalidArgumentError(f"every task must name a task, got {task!r}")
        _check_text("task", task)
    check_task_names(task_list)
    if model_args is not None and not isinstance(model_args, Mapping):
        raise InvalidArgumentError(f"model_args must be a mapping, got {type(model_args).__name__}")
    if num_fewshot is not None:
        num_fewshot = _int_option("num_fewshot", num_fewshot, 0)
    if limit is not None:
        limit = _limit_option(limit)
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, str))
    ):
        raise InvalidArgumentError(f"batch_size must be an int or a str, got {shown(batch_size)}")
    if isinstance(batch_size, str):
        _check_text("batch_size", batch_size)
    _check_str("device", device)
    _check_str("gen_kwargs", gen_kwargs)
    if batch_size is not None:
        _check_batch_size(batch_size)
    if num_gpus is not None:
        num_gpus = _int_option("num_gpus", num_gpus, 1)
    for name, flag in (("log_samples", log_samples), ("predict_only", predict_only)):
        if flag is not None and not isinstance(flag, bool):
            raise InvalidArgumentError(f"{name} must be a bool, got {shown(flag)}")
    extra = _extra_fields(extra_body)
    checked_args = json_object("model_args", model_args) if model_args is not None else None
    if warn:
        _warn_without_model_name(checked_args)
    options: dict[str, Any] = {
        "model_args": checked_args,
        "num_fewshot": num_fewshot,
        "batch_size": batch_size,
        "device": device,
        "limit": limit,
        "gen_kwargs": gen_kwargs,
        "log_samples": log_samples,
        "predict_only": predict_only,
        "num_gpus": num_gpus,
        "output_dir": _output_dir(output_dir),
    }
    from lmms_eval_api.models import EvaluateRequest  # the models: with the first request

    # Only fields passed to the constructor are "set", and to_dict() sends only those.
    return EvaluateRequest(
        model=model,
        tasks=list(task_list),
        **{k: v for k, v in options.items() if v is not None},
        **extra,
    )


def _extra_fields(extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fields of a newer server that the contract does not know yet; never a known one."""
    if extra_body is None:
        return {}
    if not isinstance(extra_body, Mapping):
        raise InvalidArgumentError(f"extra_body must be a mapping, got {type(extra_body).__name__}")
    from lmms_eval_api.models import EvaluateRequest

    extra = json_object("extra_body", extra_body)
    known = sorted(set(extra) & set(EvaluateRequest.model_fields))
    if known:
        raise InvalidArgumentError(
            f"extra_body is for fields the contract does not know; pass {', '.join(known)} "
            "as evaluate()'s own argument"
        )
    return extra


def build_merge_request(
    checkpoint_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str] | None,
    checkpoint_type: CheckpointType,
) -> MergeRequest:
    """Check merge_checkpoint()'s arguments and build the request body."""
    checkpoint = _path_str("checkpoint_path", checkpoint_path)
    if checkpoint is None:
        raise InvalidArgumentError("checkpoint_path must be a non-empty str or path, got None")
    if checkpoint_type not in ("regular", "ema"):
        raise InvalidArgumentError(
            f"checkpoint_type must be 'regular' or 'ema', got {checkpoint_type!r}"
        )
    from lmms_eval_api.models import MergeRequest, MergeRequestCheckpointType

    output = _path_str("output_path", output_path)
    kind = MergeRequestCheckpointType(checkpoint_type)
    if output is None:
        return MergeRequest(checkpoint_path=checkpoint, checkpoint_type=kind)
    return MergeRequest(checkpoint_path=checkpoint, output_path=output, checkpoint_type=kind)
