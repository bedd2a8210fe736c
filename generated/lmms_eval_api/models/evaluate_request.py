from __future__ import annotations

from typing import Any

from pydantic import Field

from ..types import ApiModel


class EvaluateRequest(ApiModel):
    """EvaluateRequest

    Request model for evaluation endpoint.

    Attributes:
        model: Model name or path: the lmms-eval model type passed as `--model`, e.g. `qwen2_vl`
            or `openai` (GET /models lists them).
        tasks: List of task names to evaluate (tasks or groups, joined with commas into
            `--tasks`). Must be a list; an empty list is accepted and the job fails later.
        model_args: Model arguments, passed as `--model_args key=value,...` (values are
            formatted with str(); a comma inside a value splits it). lmms-eval names the result
            folder after the first of `pretrained=`, `model=`, ... it finds; without such a key the
            job is reported failed. Echoed back in JobInfo.request, secrets included.
        num_fewshot: Number of few-shot examples, passed as `--num_fewshot` whenever not null (0
            included).
        batch_size: Batch size, an integer or a string such as `auto`; `0` and `""` are not
            passed on.
        device: Device to run on. Accepted and echoed, but never passed on to lmms-eval by the
            0.7.3 server.
        limit: Limit number of examples per task, passed as `--limit`: a count, a fraction in
            (0, 1), or -1 for all; `0` is not passed on (no limit). Other negative values fail the
            job.
        gen_kwargs: Generation kwargs as one `key=value,...` string, passed as `--gen_kwargs`;
            `""` is not passed on.
        log_samples: Whether to log samples (`--log_samples`): write one
            `<timestamp>_samples_<task>.jsonl` per task, listed in the result's `samples`.
        predict_only: Only generate predictions (`--predict_only`), compute no metrics.
        num_gpus: Number of GPUs to use; above 1 the evaluation runs under `accelerate launch
            --multi_gpu`.
        output_dir: Output directory for results and the evaluation log, on the server's disk.
            Without it the server creates a fresh `/tmp/lmms_eval_*` folder (never cleaned up).
    """

    model: str = Field(
        description=(
            "Model name or path: the lmms-eval model type passed as `--model`, e.g. "
            "`qwen2_vl` or `openai` (GET /models lists them)."
        )
    )
    tasks: list[str] = Field(
        description=(
            "List of task names to evaluate (tasks or groups, joined with commas into "
            "`--tasks`). Must be a list; an empty list is accepted and the job fails later."
        )
    )
    model_args: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Model arguments, passed as `--model_args key=value,...` (values are formatted "
            "with str(); a comma inside a value splits it). lmms-eval names the result folder "
            "after the first of `pretrained=`, `model=`, ... it finds; without such a key the "
            "job is reported failed. Echoed back in JobInfo.request, secrets included."
        ),
    )
    num_fewshot: int | None = Field(
        default=None,
        description=(
            "Number of few-shot examples, passed as `--num_fewshot` whenever not null (0 included)."
        ),
    )
    batch_size: int | str | None = Field(
        default=None,
        description=(
            'Batch size, an integer or a string such as `auto`; `0` and `""` are not passed on.'
        ),
    )
    device: str | None = Field(
        default=None,
        description=(
            "Device to run on. Accepted and echoed, but never passed on to lmms-eval by the "
            "0.7.3 server."
        ),
    )
    limit: int | float | None = Field(
        default=None,
        description=(
            "Limit number of examples per task, passed as `--limit`: a count, a fraction in "
            "(0, 1), or -1 for all; `0` is not passed on (no limit). Other negative values "
            "fail the job."
        ),
    )
    gen_kwargs: str | None = Field(
        default=None,
        description=(
            "Generation kwargs as one `key=value,...` string, passed as `--gen_kwargs`; "
            '`""` is not passed on.'
        ),
    )
    log_samples: bool = Field(
        default=True,
        description=(
            "Whether to log samples (`--log_samples`): write one "
            "`<timestamp>_samples_<task>.jsonl` per task, listed in the result's `samples`."
        ),
    )
    predict_only: bool = Field(
        default=False,
        description="Only generate predictions (`--predict_only`), compute no metrics.",
    )
    num_gpus: int = Field(
        default=1,
        description=(
            "Number of GPUs to use; above 1 the evaluation runs under `accelerate launch "
            "--multi_gpu`."
        ),
    )
    output_dir: str | None = Field(
        default=None,
        description=(
            "Output directory for results and the evaluation log, on the server's disk. "
            "Without it the server creates a fresh `/tmp/lmms_eval_*` folder (never cleaned "
            "up)."
        ),
    )
