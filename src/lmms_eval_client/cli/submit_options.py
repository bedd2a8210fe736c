"""The options of a submission, shared by ``submit``, ``runs submit`` and ``watch``: one
definition of each, one list of them (``SubmissionOptions``, which ``submission_options``
puts in each command's signature, where typer reads options), and one parser turning them
into ``evaluate``'s arguments.

The help texts and defaults come from evaluate()'s parameters (their one source, with the
SDK's).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Annotated, Any, get_type_hints

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
        "--poll-interval",
        callback=seconds("--poll-interval"),
        help="Seconds between polls, at most.",
    ),
]


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


@dataclass(frozen=True)
class SubmissionOptions:
    """The submission options as given: each field is one option of the commands that take
    them (``submission_options``), in the order their --help lists them."""

    model: Annotated[str, typer.Option("--model", "-m", help=cli_help("model"))]
    tasks: Annotated[list[str], typer.Option("--tasks", "-t", help=cli_help("tasks"))]
    model_args: Annotated[
        list[str] | None,
        typer.Option("--model-args", "-a", help=cli_help("model_args"), show_default=False),
    ] = None
    num_fewshot: Annotated[int | None, typer.Option(help=cli_help("num_fewshot"))] = None
    batch_size: Annotated[str | None, typer.Option(help=cli_help("batch_size"))] = None
    device: Annotated[str | None, typer.Option(help=cli_help("device"))] = None
    limit: Annotated[str | None, typer.Option(help=cli_help("limit"))] = None
    gen_kwargs: Annotated[str | None, typer.Option(help=cli_help("gen_kwargs"))] = None
    log_samples: Annotated[
        bool, typer.Option("--log-samples/--no-log-samples", help=cli_help("log_samples"))
    ] = LOG_SAMPLES
    predict_only: Annotated[bool, typer.Option("--predict-only", help=cli_help("predict_only"))] = (
        PREDICT_ONLY
    )
    num_gpus: Annotated[int, typer.Option(min=1, help=cli_help("num_gpus"))] = NUM_GPUS
    output_dir: Annotated[str | None, typer.Option(help=cli_help("output_dir"))] = None
    output_root: Annotated[
        str | None,
        typer.Option(
            help="A folder on the server's disk (an absolute path), readable here, under "
            "which a job without --output-dir gets its own (default: $LMMS_EVAL_OUTPUT_ROOT). "
            "Lets results and logs read the job's files.",
        ),
    ] = None
    extra_body: Annotated[str | None, typer.Option(help=cli_help("extra_body"))] = None

    def parse(self, label: list[str] | None) -> Submission:
        """The options (and the command's ``--label``s) as ``evaluate``'s arguments.

        Raises:
            InvalidArgumentError: A malformed --label, --tasks, --model-args, --limit or
                --extra-body, an option evaluate refuses, or a relative --output-root (a
                usage error: nothing is sent, and no ledger is created).

        Example::

            parsed = submission.parse(label)
            client.evaluate(parsed.model, parsed.tasks, parsed.model_args, **parsed.options)
        """
        labels = parse_labels(label or [])
        task_list = parse_tasks(self.tasks)
        arguments = parse_model_args(self.model_args or [])
        options: dict[str, Any] = {
            "num_fewshot": self.num_fewshot,
            "batch_size": parse_batch_size(self.batch_size),
            "device": self.device,
            "limit": parse_limit(self.limit),
            "gen_kwargs": self.gen_kwargs,
            "log_samples": self.log_samples,
            "predict_only": self.predict_only,
            "num_gpus": self.num_gpus,
            "output_dir": self.output_dir,
            "extra_body": parse_extra_body(self.extra_body),
        }
        # Checked now, as evaluate checks them: before a command opens or creates a ledger.
        from .._client.arguments import build_evaluate_request, check_server_dir  # (not --help)

        build_evaluate_request(self.model, task_list, arguments, **options, warn=False)
        if self.output_root is not None:  # (each job's output_dir is made under it)
            check_server_dir("--output-root", self.output_root)
        return Submission(self.model, task_list, arguments, options, labels)


Command = Callable[..., None]


def submission_options(*, output_dir: bool = True) -> Callable[[Command], Command]:
    """Give a command the submission options: its parameter ``submission:
    SubmissionOptions`` stands, in the signature typer reads, for one option per field
    (without ``--output-dir`` unless ``output_dir``), and receives the values given.

    Example::

        @submission_options()
        def submit(ctx: typer.Context, submission: SubmissionOptions, ...) -> None:
            parsed = submission.parse(label=None)
    """
    hints = get_type_hints(SubmissionOptions, include_extras=True)
    options = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=inspect.Parameter.empty if field.default is MISSING else field.default,
            annotation=hints[field.name],
        )
        for field in fields(SubmissionOptions)
        if output_dir or field.name != "output_dir"
    ]

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        own = list(signature.parameters.values())
        at = list(signature.parameters).index("submission")

        @functools.wraps(command)
        def run(**given: Any) -> None:
            chosen = {option.name: given.pop(option.name) for option in options}
            command(**given, submission=SubmissionOptions(**chosen))

        shown = signature.replace(parameters=[*own[:at], *options, *own[at + 1 :]])
        # typer reads both: the signature, and the type hints (evaluated here, as the
        # command's own names are not the globals of this module)
        run.__signature__ = shown  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in shown.parameters.values()}
        return run

    return decorate
