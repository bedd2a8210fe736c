"""evaluate()'s parameters are written once (_client/evaluate_params.py): the signatures,
the calls that pass them on, the docstrings' Args entries and the CLI's help all follow it,
and codegen/evaluate_params.py --check fails when one does not."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer.main

from lmms_eval_client import (
    AsyncEvalClient,
    AsyncEvalPool,
    AsyncEvalRun,
    EvalClient,
    EvalPool,
    EvalRun,
)
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.evaluate_params import (
    OPTION_PARAMS,
    PARAMS,
    REQUEST_PARAMS,
    default_of,
    names,
)
from lmms_eval_client.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "codegen" / "evaluate_params.py"
PACKAGE = ROOT / "src" / "lmms_eval_client"

# Each entry point and the options beside the request fields it takes from the table.
ENTRY_POINTS: list[tuple[Callable[..., Any], tuple[str, ...]]] = [
    (EvalClient.evaluate, ("extra_body", "reconcile", "timeout")),
    (AsyncEvalClient.evaluate, ("extra_body", "reconcile", "timeout")),
    (EvalPool.evaluate, ("extra_body", "reconcile", "timeout")),
    (AsyncEvalPool.evaluate, ("extra_body", "reconcile", "timeout")),
    (EvalRun.submit, ("extra_body", "timeout")),
    (AsyncEvalRun.submit, ("extra_body", "timeout")),
    (build_evaluate_request, ("extra_body",)),
]
IDS = [function.__qualname__ for function, _ in ENTRY_POINTS]


def check(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--package", str(package)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def package(tmp_path: Path) -> Path:
    copy = tmp_path / "lmms_eval_client"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# -- the generation ------------------------------------------------------------------------


def test_the_committed_modules_follow_the_table(package: Path) -> None:
    done = check(package)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "match _client/evaluate_params.py" in done.stdout


def test_a_change_of_the_table_makes_every_entry_point_stale(package: Path) -> None:
    edit(package / "_client" / "evaluate_params.py", "Write per-sample outputs.", "Keep samples.")
    edit(package / "_client" / "evaluate_params.py", '"bool | None", "True"', '"bool", "True"')
    done = check(package)
    assert done.returncode == 1
    for target in ("arguments.py", "client.py", "pool.py", "run.py"):
        assert f"/{target} (fresh from _client/evaluate_params.py)" in done.stdout
    assert "+            log_samples: Keep samples." in done.stdout
    assert "+        log_samples: bool = True," in done.stdout
    assert "run 'make generate'" in done.stdout


def test_a_hand_edit_of_a_generated_region_fails_the_check(package: Path) -> None:
    edit(
        package / "_pool" / "_async" / "pool.py", "num_gpus: int | None = 1,", "num_gpus: int = 2,"
    )
    done = check(package)
    assert done.returncode == 1
    assert "-        num_gpus: int = 2," in done.stdout


def test_a_parameter_without_an_args_entry_fails(package: Path) -> None:
    edit(
        package / "_runs" / "_async" / "run.py",
        '            labels: Any JSON-able mapping, e.g. ``{"epoch": 3, "checkpoint": '
        '"ckpt-3"}``.\n',
        "",
    )
    done = check(package)
    assert done.returncode == 1
    assert "submit(): the docstring has no Args entry for labels" in done.stdout


def test_an_args_entry_for_no_parameter_fails(package: Path) -> None:
    edit(
        package / "_runs" / "_async" / "run.py",
        "            labels: Any JSON-able mapping",
        "            tags: Gone.\n            labels: Any JSON-able mapping",
    )
    done = check(package)
    assert done.returncode == 1
    assert "submit(): Args entries for no parameter: tags" in done.stdout


def test_an_unknown_name_in_a_marker_fails(package: Path) -> None:
    edit(
        package / "_pool" / "_async" / "pool.py",
        "# <params request extra_body: arguments>",
        "# <params seed: arguments>",
    )
    done = check(package)
    assert done.returncode == 1
    assert "no parameter 'seed'" in done.stdout


# -- what users see ------------------------------------------------------------------------


@pytest.mark.parametrize(("function", "options"), ENTRY_POINTS, ids=IDS)
def test_each_entry_point_has_the_tables_parameters(
    function: Callable[..., Any], options: tuple[str, ...]
) -> None:
    parameters = inspect.signature(function).parameters
    request = [p for p in parameters.values() if p.name in names("request")]
    # in lmms-eval's order, and positional as there
    assert [p.name for p in request] == [param.name for param in REQUEST_PARAMS]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in request)
    for name in [*names("request"), *options]:
        param, written = PARAMS[name], parameters[name]
        assert written.annotation == param.annotation, name
        if param.default is None:
            assert written.default is inspect.Parameter.empty, name
        elif name != "timeout":  # CLIENT_TIMEOUT: an object, written by its name
            assert repr(written.default) == param.default, name
    taken = {p.name for p in OPTION_PARAMS} & set(parameters)
    assert taken == set(options)


def normal(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(("function", "options"), ENTRY_POINTS, ids=IDS)
def test_each_entry_point_documents_the_tables_parameters(
    function: Callable[..., Any], options: tuple[str, ...]
) -> None:
    doc = normal(inspect.getdoc(function) or "")
    for name in [*names("request"), *options]:
        assert f"{name}: {normal(PARAMS[name].docstring_entry)}" in doc, name


def test_the_cli_takes_its_help_texts_and_defaults_from_the_table() -> None:
    command = typer.main.get_command(app)
    assert isinstance(command, typer.main.TyperGroup)
    submit = command.get_command(typer.Context(command), "submit")  # loaded on demand
    assert submit is not None
    options = {param.name: param for param in submit.params}
    for name in names("request extra_body"):
        assert getattr(options[name], "help", None) == PARAMS[name].cli_help, name
    assert options["log_samples"].default is default_of("log_samples", bool) is True
    assert options["predict_only"].default is default_of("predict_only", bool) is False
    assert options["num_gpus"].default == default_of("num_gpus", int) == 1


def test_default_of_refuses_a_default_of_another_type() -> None:
    with pytest.raises(TypeError, match="not a bool"):
        default_of("num_gpus", bool)
    with pytest.raises(TypeError):
        default_of("model", str)  # required: no default
