"""The flat public API: every name in __all__ resolves, lazily, and type checkers see it too."""

from __future__ import annotations

import ast
import compileall
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lmms_eval_client

INIT = Path(lmms_eval_client.__file__)


@pytest.mark.parametrize("name", lmms_eval_client.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(lmms_eval_client, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'EvalClinet'"):
        lmms_eval_client.EvalClinet  # type: ignore[attr-defined]  # noqa: B018


def test_the_lazy_table_is_what_type_checkers_see() -> None:
    # The table (written by codegen/public_names.py) loads every name from the module the
    # TYPE_CHECKING imports name, and holds every public name.
    tree = ast.parse(INIT.read_text())
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test)
    )
    seen: dict[str, str] = {}
    for node in guarded.body:
        assert isinstance(node, ast.ImportFrom)
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            seen[alias.name] = module
    assert seen == lmms_eval_client._WHERE
    assert set(seen) | {"__version__"} == set(lmms_eval_client.__all__)


@pytest.mark.parametrize("module", ["lmms_eval_client", "lmms_eval_api.models"])
def test_a_type_checker_does_not_see_the_lazy_getattr(module: str) -> None:
    # To mypy and pyright a module's __getattr__ makes every name exist: a misspelled
    # `from lmms_eval_client import JobInfoo` type-checked clean (an adversarial review).
    source = Path(importlib.import_module(module).__file__ or "").read_text()
    tree = ast.parse(source)
    assert not [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"]
    (hidden,) = (
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "not TYPE_CHECKING"
    )
    assert [n.name for n in hidden.body if isinstance(n, ast.FunctionDef)] == ["__getattr__"]


@pytest.mark.slow
def test_an_install_without_sources_loads_the_public_names(tmp_path: Path) -> None:
    # A frozen app (PyInstaller) or a bytecode-only install has no __init__.py to read:
    # the table is data, so names still load.
    root = Path(__file__).resolve().parents[2]
    for package in ("src/lmms_eval_client", "generated/lmms_eval_api"):
        shutil.copytree(
            root / package,
            tmp_path / Path(package).name,
            ignore=shutil.ignore_patterns("__pycache__", "*.typed"),
        )
    assert compileall.compile_dir(tmp_path, legacy=True, quiet=1)
    for source in tmp_path.rglob("*.py"):
        source.unlink()
    code = (
        "import lmms_eval_client as m; print(m.__file__, m.EvalClient.__name__, m.JobInfo.__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        str(tmp_path / "lmms_eval_client" / "__init__.pyc"),
        "EvalClient",
        "JobInfo",
    ]


def loaded_after(statement: str, modules: tuple[str, ...]) -> list[str]:
    """Those of ``modules`` a fresh interpreter has loaded after running ``statement``."""
    code = f"import sys\n{statement}\nprint(sorted(m for m in {modules!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = ast.literal_eval(done.stdout.strip())
    return loaded


def test_import_loads_no_model_machinery() -> None:
    assert loaded_after("import lmms_eval_client", ("httpx", "pydantic")) == []


def test_the_client_classes_load_their_models_with_the_first_request() -> None:
    # Issue 22: what users write first costs about `import httpx, pydantic` (make bench
    # times it); pydantic's model machinery, the models, httpcore and the results reading
    # load with the first request or the first results read.
    heavy = (
        "pydantic.main", "lmms_eval_api.models", "lmms_eval_api.types", "httpcore",
        "lmms_eval_client._results.results", "lmms_eval_client._results.file_access",
    )  # fmt: skip
    assert loaded_after("from lmms_eval_client import AsyncEvalClient, EvalClient", heavy) == []


def test_the_run_classes_load_models_outcomes_and_results_reading_on_first_use() -> None:
    # Issue 22: `from lmms_eval_client import EvalRun` costs about `import httpx, pydantic`
    # (make bench times it): pydantic's model machinery, the generated models, the outcome
    # and table models, and the results reading load with the first job read, outcome,
    # table or summary, not with the import.
    heavy = (
        "pydantic.main", "pydantic_core", "lmms_eval_api.models", "lmms_eval_api.types",
        "httpcore", "lmms_eval_client._runs.outcomes", "lmms_eval_client._runs.table",
        "lmms_eval_client._runs.recovery_files", "lmms_eval_client._results.files",
        "lmms_eval_client._results.results", "lmms_eval_client._results.sections",
        "lmms_eval_client._results.samples", "lmms_eval_client._results.metrics",
        "lmms_eval_client._results.errors", "lmms_eval_client._results.file_access",
        "ctypes",  # (the network filesystem check: when a SQLite ledger is opened)
    )  # fmt: skip
    assert loaded_after("from lmms_eval_client import AsyncEvalRun, EvalRun", heavy) == []
