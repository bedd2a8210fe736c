from __future__ import annotations

from typing import Any

from pydantic import Field

from ..types import ApiModel


class EvaluateRequest(ApiModel):
    """EvaluateRequest

    Request model for evaluation endpoint.

    Attributes:
        model: Model name or path
        tasks: List of task names to evaluate
        model_args: Model arguments
        num_fewshot: Number of few-shot examples
        batch_size: Batch size
        device: Device to run on
        limit: Limit number of examples
        gen_kwargs: Generation kwargs
        log_samples: Whether to log samples
        predict_only: Only generate predictions
        num_gpus: Number of GPUs to use
        output_dir: Output directory for results
    """

    model: str
    tasks: list[str]
    model_args: dict[str, Any] | None = Field(default=None)
    num_fewshot: int | None = Field(default=None)
    batch_size: int | str | None = Field(default=None)
    device: str | None = Field(default=None)
    limit: int | float | None = Field(default=None)
    gen_kwargs: str | None = Field(default=None)
    log_samples: bool = Field(default=True)
    predict_only: bool = Field(default=False)
    num_gpus: int = Field(default=1)
    output_dir: str | None = Field(default=None)
