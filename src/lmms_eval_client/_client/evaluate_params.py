"""The parameters of a job submission, written once: name, type, default and documentation.

``evaluate``'s parameters appear in five signatures: ``AsyncEvalClient.evaluate``,
``AsyncEvalPool.evaluate``, ``AsyncEvalRun.submit`` (and so their generated sync twins),
``arguments.build_evaluate_request``, and the CLI's ``submit``. This table is their one
source. ``codegen/evaluate_params.py`` (``make generate``) writes from it, between
``# <params ...>`` / ``# </params>`` comments, those parameter lists and the calls that pass
them on, and the ``Args:`` entries of their docstrings; ``--check`` (``make
check-generated``, and tests/codegen/test_evaluate_params.py) fails when one differs. The
CLI's typer options stay written out (typer reads them from the signature) but take their
help texts and defaults from here. The rules that check the values are written once too, in
``arguments.build_evaluate_request``.

Why generated text and not one ``TypedDict`` unpacked into each signature
(``**options: Unpack[EvaluateOptions]``): the methods must stay drop-in replacements for
lmms-eval's ``AsyncEvalClient.evaluate(model, tasks, model_args, num_fewshot, ...)``, whose
options may be passed by position, and a TypedDict makes them keyword-only; it cannot say
a default (``log_samples=True``, ``num_gpus=1``), so signatures and hovers would lose them;
IDEs do not show a TypedDict key's docstring in a call's hover or completion, while written
parameters get the ``Args:`` entry; ``inspect.signature`` would show one ``**options``,
which ``tests/codegen/test_facade_coverage.py`` rightly refuses as covering the contract's
fields; and a misspelt keyword would no longer be a TypeError at run time. Generated
signatures keep all of that, are plain to every type checker, and cost a ``--check``.

Deliberately free of imports from the package: the generator loads this file on its own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# The name that, in a ``# <params ...>`` marker, stands for every field of the request body
# that has a parameter of its own (all of them but those of ``extra_body``).
REQUEST = "request"


@dataclass(frozen=True)
class Param:
    """One parameter: how the signatures write it, and how it is documented.

    Attributes:
        name: The parameter (and request field) name.
        annotation: Its type as the signatures write it; every module with a ``<params>``
            marker imports the names it uses.
        default: The default as source text; None: none (a required parameter).
        doc: Its first sentence: the docstring entry begins with it, and it is the CLI's
            help unless ``cli`` is given.
        more: What the docstring entry says after ``doc``.
        cli: The CLI option's help, where the command line takes it in another form.
    """

    name: str
    annotation: str
    default: str | None
    doc: str
    more: str = ""
    cli: str | None = None

    @property
    def docstring_entry(self) -> str:
        """The text of its ``Args:`` entry, unwrapped, after ``name: ``."""
        return f"{self.doc} {self.more}".strip()

    @property
    def cli_help(self) -> str:
        """Its help on the command line: ``cli``, else ``doc`` without reST quoting."""
        if self.cli is not None:
            return self.cli
        return self.doc.replace("``", "").replace('"', "")


# The request fields, in the order of lmms-eval's AsyncEvalClient.evaluate (positional there).
REQUEST_PARAMS: tuple[Param, ...] = (
    Param(
        "model", "str", None,
        'lmms-eval model type, e.g. "qwen2_vl" (see ``list_models()``).',
        cli="lmms-eval model type, e.g. qwen2_vl (see the models command).",
    ),
    Param(
        "tasks", "Sequence[str] | str", None,
        'Task names, e.g. ["mmmu_val"]; a single str is taken as one task.',
        cli="Task names: repeatable, or comma-separated.",
    ),
    Param(
        "model_args", "Mapping[str, Any] | None", "None",
        'Model arguments, e.g. {"pretrained": "Qwen/Qwen2-VL-7B-Instruct"}.',
        "The result files are filed under the model name lmms-eval derives from them "
        "(``pretrained``, ``model``, ...).",
        cli="lmms-eval's key=value,... (pretrained=org/x,dtype=bfloat16) or a JSON object; "
        "repeatable. Name the model (pretrained=, model=...): lmms-eval files the results "
        "under it.",
    ),
    Param("num_fewshot", "int | None", "None", "Number of few-shot examples (>= 0)."),
    Param(
        "batch_size", "int | str | None", "None",
        'Batch size, an int or a string such as "auto".',
        cli="Batch size: a number, auto or auto:N.",
    ),
    Param("device", "str | None", "None", 'Device to run on, e.g. "cuda:0".'),
    Param(
        "limit", "int | float | None", "None",
        "Examples per task: a count (> 0), a fraction in (0, 1), or -1 for all (as "
        "lmms-eval's CLI takes it).",
        'A numeric str such as "8" is read as its number.',
    ),
    Param(
        "gen_kwargs", "str | None", "None",
        'Generation kwargs, e.g. "temperature=0,max_new_tokens=64".',
    ),
    Param("log_samples", "bool | None", "True", "Write per-sample outputs."),
    Param("predict_only", "bool | None", "False", "Only generate predictions, skip metrics."),
    Param("num_gpus", "int | None", "1", "Number of GPUs to use (>= 1)."),
    Param(
        "output_dir", "str | os.PathLike[str] | None", "None",
        "Results folder on the server's disk.",
        "Default: a fresh one under ``output_root`` when one is set (each job its own), "
        "else a fresh temporary one the server picks.",
    ),
)  # fmt: skip

# The options of a submission beside the request fields (keyword-only in the methods).
OPTION_PARAMS: tuple[Param, ...] = (
    Param(
        "extra_body", "Mapping[str, Any] | None", "None",
        "Fields of a newer server that this client's contract does not know yet, sent as "
        "given (JSON values; never a field that has a parameter here).",
        cli="Fields of a newer server, as a JSON object: '{\"seed\": 7}'.",
    ),
    Param(
        "reconcile", "bool", "False",
        "Exactly one job even when the answer is lost: read ``/queue`` before sending; "
        "after a lost answer, adopt the new queued or running job whose echoed request "
        "equals this one (a unique output_dir makes that exact), or send again only when "
        "the server provably has no such job (one job queued before it still waits, or its "
        "finished counters did not move); else raise SubmissionUnresolvedError, sending "
        'nothing more (README: "Evaluation runs").',
    ),
    Param(
        "timeout", "RequestTimeout", "CLIENT_TIMEOUT",
        "This call's time budget instead of the client's (seconds, an ``httpx.Timeout``, "
        "or None for none).",
    ),
)  # fmt: skip

PARAMS: dict[str, Param] = {param.name: param for param in REQUEST_PARAMS + OPTION_PARAMS}


def names(spec: str) -> list[str]:
    """The parameters a marker names: space-separated names, ``request`` for all fields."""
    found: list[str] = []
    for word in spec.split():
        if word == REQUEST:
            found += [param.name for param in REQUEST_PARAMS]
        elif word in PARAMS:
            found.append(word)
        else:
            raise KeyError(f"no parameter {word!r} in _client/evaluate_params.py")
    return found


def cli_help(name: str) -> str:
    """The help of the CLI's option for parameter ``name``."""
    return PARAMS[name].cli_help


def default_of(name: str, kind: type[T]) -> T:
    """Parameter ``name``'s default as a value of ``kind`` (for the CLI's options)."""
    text = PARAMS[name].default
    value = None if text is None else ast.literal_eval(text)
    if not isinstance(value, kind):
        raise TypeError(f"{name}'s default {text} is not a {kind.__name__}")
    return value
