"""The typed sections of an lmms-eval results file: run config, task configs, sample counts,
throughput, token usage and efficiency.

Every model keeps keys it does not know (``extra="allow"``): a newer lmms-eval's additions
stay readable as attributes and in ``model_extra``. Every field is optional, so a file that
lacks a section still loads.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue


def _number_or_none(value: object) -> object:
    """Numbers written as text (``"4.33"``) become floats; other text ("N/A") None."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value


LenientFloat = Annotated[float | None, BeforeValidator(_number_or_none)]
"""A float the file may write as a number, as numeric text, or as text that means none."""


class Section(BaseModel):
    """Base of the sections: unknown keys kept, fields readable by their file names too."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="allow", populate_by_name=True, protected_namespaces=()
    )


class NSamples(Section):
    """How many documents a task has, and how many were evaluated (``n-samples``).

    >>> results.n_samples["e2e_arith"].effective
    5
    """

    original: int | None = Field(default=None, description="Documents in the task's split.")
    effective: int | None = Field(
        default=None, description="Documents evaluated (fewer with `limit`)."
    )


class TaskConfig(Section):
    """A task's configuration as lmms-eval resolved it (an entry of ``configs``).

    Python callables appear as their repr text (``"<function doc_to_text at 0x...>"``).

    >>> results.configs["e2e_arith"].output_type
    'generate_until'
    """

    task: str | None = Field(default=None, description="The task name.")
    dataset_path: str | None = Field(default=None, description="The dataset (HF id or loader).")
    dataset_name: str | None = Field(default=None, description="The dataset configuration.")
    dataset_kwargs: dict[str, JsonValue] | None = Field(
        default=None, description="Extra arguments of the dataset loader."
    )
    test_split: str | None = Field(default=None, description="The split evaluated.")
    num_fewshot: int | None = Field(default=None, description="Few-shot examples per prompt.")
    output_type: str | None = Field(
        default=None, description="`generate_until`, `loglikelihood`, `multiple_choice`, ..."
    )
    metric_list: list[dict[str, JsonValue]] | None = Field(
        default=None,
        description="The metrics, each `{metric, aggregation, higher_is_better, ...}`.",
    )
    generation_kwargs: dict[str, JsonValue] | None = Field(
        default=None, description="Generation settings (max_new_tokens, temperature, ...)."
    )
    repeats: int | None = Field(default=None, description="Repeats per document.")
    metadata: dict[str, JsonValue] | None = Field(
        default=None, description="The task's metadata (its `version`, ...)."
    )


class EvaluationConfig(Section):
    """How the evaluation was run (the file's ``config``).

    ``model_args`` is the string lmms-eval was given, with secrets masked as
    ``[REDACTED]`` by lmms-eval.

    >>> results.config.model, results.config.limit
    ('openai', None)
    """

    model: str | None = Field(default=None, description="The lmms-eval model type, e.g. `openai`.")
    model_args: str | dict[str, JsonValue] | None = Field(
        default=None, description="The model arguments (`k=v,k2=v2`), secrets masked."
    )
    model_backend: str | None = Field(default=None, description="The model class lmms-eval used.")
    batch_size: int | str | None = Field(default=None, description="Batch size (or `auto`).")
    batch_sizes: list[JsonValue] | None = Field(
        default=None, description="Batch sizes chosen with `auto`."
    )
    device: str | int | None = Field(default=None, description="Device requested.")
    use_cache: str | bool | None = Field(default=None, description="Response cache path, if any.")
    limit: int | float | None = Field(
        default=None, description="Documents per task: a count, or a fraction below 1."
    )
    offset: int | None = Field(default=None, description="Documents skipped per task.")
    bootstrap_iters: int | None = Field(default=None, description="Bootstrap iterations.")
    gen_kwargs: str | dict[str, JsonValue] | None = Field(
        default=None, description="Generation arguments given on the command line."
    )
    random_seed: int | None = Field(default=None, description="Python random seed.")
    numpy_seed: int | None = Field(default=None, description="NumPy seed.")
    torch_seed: int | None = Field(default=None, description="Torch seed.")
    fewshot_seed: int | None = Field(default=None, description="Few-shot sampling seed.")
    resolved_cli_args: dict[str, JsonValue] | None = Field(
        default=None, description="Every command-line argument lmms-eval ran with."
    )


class Throughput(Section):
    """Generation speed over the whole evaluation (``throughput``).

    >>> results.throughput.avg_speed  # tokens per second
    3.4792020347460326
    """

    total_gen_tokens: LenientFloat = Field(default=None, description="Tokens generated.")
    total_elapsed_time: LenientFloat = Field(default=None, description="Seconds spent generating.")
    avg_speed: LenientFloat = Field(default=None, description="Tokens per second.")


class TokenUsage(Section):
    """Token counts of API calls.

    >>> results.usage.total.total_tokens
    66
    """

    input_tokens: int | None = Field(default=None, description="Prompt tokens.")
    output_tokens: int | None = Field(default=None, description="Completion tokens.")
    reasoning_tokens: int | None = Field(default=None, description="Reasoning tokens.")
    total_tokens: int | None = Field(default=None, description="All tokens.")
    n_api_calls: int | None = Field(default=None, description="API calls made.")


class Usage(Section):
    """Token usage of an API model (``usage``; lmms-eval writes it for API models).

    >>> results.usage.by_source["model"].n_api_calls
    5
    """

    total: TokenUsage | None = Field(default=None, description="Over the whole evaluation.")
    by_task: dict[str, TokenUsage] = Field(
        default_factory=dict, description="Per task (`_unknown` when not attributed)."
    )
    by_source: dict[str, TokenUsage] = Field(
        default_factory=dict, description="Per source (`model`, a judge, ...)."
    )
    budget_exceeded: bool | None = Field(
        default=None, description="Whether a token budget stopped the run."
    )
    budget_total_tokens: int | None = Field(default=None, description="The token budget, if any.")


class EfficiencyStats(Section):
    """Token efficiency of a task, or of the whole run.

    >>> results.efficiency.by_task["e2e_arith"].tokens_per_correct_answer
    1.25
    """

    docs: LenientFloat = Field(default=None, description="Documents evaluated.")
    docs_with_token_counts: LenientFloat = Field(
        default=None, description="Documents whose token counts are known."
    )
    total_input_tokens: LenientFloat = Field(default=None, description="Prompt tokens.")
    total_output_tokens: LenientFloat = Field(default=None, description="Generated tokens.")
    total_tokens: LenientFloat = Field(default=None, description="All tokens.")
    total_correct_score: LenientFloat = Field(
        default=None, description="Sum of the per-sample scores."
    )
    avg_output_tokens_per_sample: LenientFloat = Field(
        default=None, description="Generated tokens per document."
    )
    tokens_per_correct_answer: LenientFloat = Field(
        default=None, description="Generated tokens per correct answer (None when none was)."
    )


class Efficiency(Section):
    """Token efficiency (``efficiency``; written when token counts are known).

    >>> results.efficiency.overall.total_output_tokens
    5.0
    """

    by_task: dict[str, EfficiencyStats] = Field(default_factory=dict, description="Per task.")
    overall: EfficiencyStats | None = Field(default=None, description="Over every task.")
