"""The options of a submission, shared by ``submit`` and ``runs submit``: one definition of
each (typer reads options from a command's signature, so each command still names them,
with these types and defaults), and one parser turning them into ``evaluate``'s arguments.

The help texts and defaults come from evaluate()'s parameters (their one source, with the
SDK's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer
from pydantic import JsonValue

from .._client.evaluate_params import cli_help, default_of
from .model_args import (
    parse_batch_size,
    parse_extra_body,
    parse_labels,
    parse_limit,
    parse_model_args,
    parse_tasks,
    seconds,
)

LOG_SAMPLES = default_of("log_samples", bool)
PREDICT_ONLY = default_of("predict_only", bool)
NUM_GPUS = default_of("num_gpus", int)

# The polling of wait, watch, runs watch and the checkpoint watcher.
PollInterval = Annotated[
    float,
    typer.Option(
        "--poll-interval", callback=seconds("--poll-interval"), help="Seconds between polls."
    ),
]

Model = Annotated[str, typer.Option("--model", "-m", help=cli_help("model"))]
Tasks = Annotated[list[str], typer.Option("--tasks", "-t", help=cli_help("tasks"))]
ModelArgs = Annotated[
    list[str] | None,
    typer.Option("--model-args", "-a", help=cli_help("model_args"), show_default=False),
]
NumFewshot = Annotated[int | None, typer.Option(help=cli_help("num_fewshot"))]
BatchSize = Annotated[str | None, typer.Option(help=cli_help("batch_size"))]
Device = Annotated[str | None, typer.Option(help=cli_help("device"))]
Limit = Annotated[str | None, typer.Option(help=cli_help("limit"))]
GenKwargs = Annotated[str | None, typer.Option(help=cli_help("gen_kwargs"))]
LogSamples = Annotated[
    bool, typer.Option("--log-samples/--no-log-samples", help=cli_help("log_samples"))
]
PredictOnly = Annotated[bool, typer.Option("--predict-only", help=cli_help("predict_only"))]
NumGpus = Annotated[int, typer.Option(min=1, help=cli_help("num_gpus"))]
OutputDir = Annotated[str | None, typer.Option(help=cli_help("output_dir"))]
OutputRoot = Annotated[
    str | None,
    typer.Option(
        help="A folder on the server's disk, readable here, under which a job without "
        "--output-dir gets its own (default: $LMMS_EVAL_OUTPUT_ROOT). Lets results and "
        "logs read the job's files.",
    ),
]
ExtraBody = Annotated[str | None, typer.Option(help=cli_help("extra_body"))]


@dataclass(frozen=True)
class Submission:
    """The command line's submission, parsed: what ``evaluate`` (or ``EvalRun.submit``)
    is called with, and the labels."""

    model: str
    tasks: list[str]
    model_args: dict[str, JsonValue] | None
    options: dict[str, Any]
    """The keyword arguments after model, tasks and model_args."""
    labels: dict[str, str]


def parse_submission(
    *,
    model: str,
    tasks: list[str],
    model_args: list[str] | None,
    num_fewshot: int | None,
    batch_size: str | None,
    device: str | None,
    limit: str | None,
    gen_kwargs: str | None,
    log_samples: bool,
    predict_only: bool,
    num_gpus: int,
    output_dir: str | None,
    extra_body: str | None,
    label: list[str] | None,
) -> Submission:
    """The options as ``evaluate``'s arguments.

    Raises:
        InvalidArgumentError: A malformed --label, --tasks, --model-args, --limit or
            --extra-body (a usage error: nothing is sent).

    Example::

        parsed = parse_submission(model="qwen2_vl", tasks=["mme"], model_args=None, ...)
        client.evaluate(parsed.model, parsed.tasks, parsed.model_args, **parsed.options)
    """
    labels = parse_labels(label or [])
    task_list = parse_tasks(tasks)
    arguments = parse_model_args(model_args or [])
    options: dict[str, Any] = {
        "num_fewshot": num_fewshot,
        "batch_size": parse_batch_size(batch_size),
        "device": device,
        "limit": parse_limit(limit),
        "gen_kwargs": gen_kwargs,
        "log_samples": log_samples,
        "predict_only": predict_only,
        "num_gpus": num_gpus,
        "output_dir": output_dir,
        "extra_body": parse_extra_body(extra_body),
    }
    return Submission(model, task_list, arguments, options, labels)
