"""Argument checks and request bodies: what is refused before anything is sent.

``evaluate()`` sends only the options that were set: every None is left out of the body,
so the server applies its own defaults.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

from lmms_eval_api.models import EvaluateRequest, MergeRequest, MergeRequestCheckpointType

from ._exceptions import InvalidArgumentError

CheckpointType = Literal["regular", "ema"]

# httpx refuses URLs over 65,536 characters; leave room for the base URL.
MAX_JOB_ID_URL_CHARS = 60_000


def check_job_id(job_id: object) -> str:
    """A job id that is safe to put in a path segment (it is percent-encoded there)."""
    if not isinstance(job_id, str):
        raise InvalidArgumentError(f"job_id must be a str, got {type(job_id).__name__}")
    if not job_id:
        raise InvalidArgumentError("job_id must not be empty")
    if job_id in (".", ".."):
        # Dot segments survive percent-encoding and would be resolved to another path.
        raise InvalidArgumentError(f"job_id {job_id!r} is not a job id")
    _check_utf8("job_id", job_id)
    if len(quote(job_id, safe="")) > MAX_JOB_ID_URL_CHARS:
        raise InvalidArgumentError(
            f"job_id is too long for a URL ({len(job_id)} characters); "
            "lmms-eval's job ids are 36-character UUIDs"
        )
    return job_id


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")


def _check_utf8(name: str, value: str) -> None:
    """Reject strings that cannot go on the wire (lone surrogates, e.g. from os.fsdecode)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"{name} is not valid text (cannot be UTF-8 encoded): {exc}"
        ) from None


def _check_str(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {value!r}")
    _check_utf8(name, value)


def _path_str(name: str, value: object) -> str | None:
    """A path option as the str the server expects (str and os.PathLike accepted)."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty str or path, got {value!r}")
    _check_utf8(name, value)
    return value


def _json_object(name: str, value: Mapping[Any, Any]) -> dict[str, Any]:
    """A mapping that strict JSON can carry: str keys, no NaN/inf, serialisable values."""
    if not all(isinstance(key, str) for key in value):
        raise InvalidArgumentError(f"{name} keys must be str, got {list(value)!r}")
    value = dict(value)
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidArgumentError(f"{name} must be JSON-serialisable: {exc}") from None
    return value


def build_evaluate_request(
    model: str,
    tasks: Sequence[str] | str,
    model_args: Mapping[str, Any] | None,
    num_fewshot: int | None,
    batch_size: int | str | None,
    device: str | None,
    limit: int | float | None,
    gen_kwargs: str | None,
    log_samples: bool | None,
    predict_only: bool | None,
    num_gpus: int | None,
    output_dir: str | os.PathLike[str] | None,
) -> EvaluateRequest:
    """Check evaluate()'s arguments and build the request body, leaving out every None option."""
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError(f"model must be a non-empty str, got {model!r}")
    _check_utf8("model", model)
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
        _check_utf8("task", task)
    if model_args is not None and not isinstance(model_args, Mapping):
        raise InvalidArgumentError(f"model_args must be a mapping, got {type(model_args).__name__}")
    if num_fewshot is not None:
        _check_int("num_fewshot", num_fewshot, 0)
    if limit is not None and (
        isinstance(limit, bool)
        or not isinstance(limit, (int, float))
        or not math.isfinite(limit)
        or not limit > 0
    ):
        raise InvalidArgumentError(f"limit must be a finite number > 0, got {limit!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, str))
    ):
        raise InvalidArgumentError(f"batch_size must be an int or a str, got {batch_size!r}")
    _check_str("device", device)
    _check_str("gen_kwargs", gen_kwargs)
    if num_gpus is not None:
        _check_int("num_gpus", num_gpus, 1)
    for name, flag in (("log_samples", log_samples), ("predict_only", predict_only)):
        if flag is not None and not isinstance(flag, bool):
            raise InvalidArgumentError(f"{name} must be a bool, got {flag!r}")
    options: dict[str, Any] = {
        "model_args": _json_object("model_args", model_args) if model_args is not None else None,
        "num_fewshot": num_fewshot,
        "batch_size": batch_size,
        "device": device,
        "limit": limit,
        "gen_kwargs": gen_kwargs,
        "log_samples": log_samples,
        "predict_only": predict_only,
        "num_gpus": num_gpus,
        "output_dir": _path_str("output_dir", output_dir),
    }
    # Only fields passed to the constructor are "set", and to_dict() sends only those.
    return EvaluateRequest(
        model=model,
        tasks=list(task_list),
        **{k: v for k, v in options.items() if v is not None},
    )


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
    output = _path_str("output_path", output_path)
    kind = MergeRequestCheckpointType(checkpoint_type)
    if output is None:
        return MergeRequest(checkpoint_path=checkpoint, checkpoint_type=kind)
    return MergeRequest(checkpoint_path=checkpoint, output_path=output, checkpoint_type=kind)
