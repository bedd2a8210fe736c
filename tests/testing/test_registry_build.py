"""codegen/build_registry.py: how it indexes task YAMLs, and its drift check."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def build_registry() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_registry", ROOT / "codegen" / "build_registry.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_task_yamls_are_indexed_as_lmms_eval_does(
    build_registry: ModuleType, tmp_path: Path
) -> None:
    # a template included by tasks (with a tag and a !function), a group with an inline
    # group and a configured member, a python task, and YAMLs that are none of these
    write(tmp_path, "a/_template.yaml", "tag: family\ndoc_to_text: !function utils.text\n")
    write(tmp_path, "a/one.yaml", "include: _template.yaml\ntask: one\n")
    write(tmp_path, "a/two.yaml", "include: _template.yaml\ntask: two\ntag: [solo]\n")
    write(
        tmp_path,
        "b/suite.yaml",
        "group: suite\ngroup_alias: The Suite\ntask:\n  - one\n  - task: two\n    num_fewshot: 1\n"
        "  - group: inner\n    task: [family]\n    aggregate_metric_list:\n"
        "      - metric: acc\n        weight_by_size: true\n"
        "aggregate_metric_list: {metric: acc}\nmetadata: {version: 2}\n",
    )
    write(tmp_path, "c/py.yaml", "task: pytask\nclass: !function task.Cls\n")
    write(tmp_path, "c/notes.yaml", "just: data\n")
    write(tmp_path, "__pycache__/skipped.yaml", "task: skipped\n")
    registry, notes = build_registry.index_tasks(tmp_path)

    assert registry["kinds"] == {
        "family": "tag",
        "one": "subtask",
        "pytask": "python_task",
        "solo": "tag",
        "suite": "group",
        "two": "subtask",
    }
    # the file's own `tag:` wins over the template's
    assert registry["tags"] == {"family": ["one"], "solo": ["two"]}
    assert registry["groups"] == {
        "suite": {
            "alias": "The Suite",
            "aggregate": True,
            "weight_by_size": False,
            "version": 2,
            "task": [
                "one",
                "two",
                {
                    "group": "inner",
                    "alias": None,
                    "aggregate": True,
                    "weight_by_size": True,
                    "version": None,
                    "task": ["family"],
                },
            ],
        }
    }
    assert notes == []


def test_a_name_defined_twice_is_noted(build_registry: ModuleType, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "task: x\ntag: shared\n")
    write(tmp_path, "b.yaml", "group: shared\ntask: [x]\n")
    registry, notes = build_registry.index_tasks(tmp_path)
    assert registry["kinds"] == {"shared": "group", "x": "subtask"}
    assert registry["tags"] == {}
    assert notes == ["shared: a tag redefined as a group by b.yaml"]


def test_check_fails_on_drift_and_passes_when_current(
    build_registry: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = {
        "lmms_eval_version": "0.7.3",
        "kinds": {"a": "subtask", "g": "group"},
        "models": ["m"],
        "model_aliases": {},
    }
    fresh = json.dumps(document, indent=1, sort_keys=True) + "\n"
    monkeypatch.setattr(build_registry, "build", lambda: (fresh, []))
    target = tmp_path / "registry.json"

    target.write_text(fresh.replace('"a"', '"b"'), encoding="utf-8")
    assert build_registry.main(["--check", "--output", str(target)]) == 1
    out = capsys.readouterr().out
    assert '-  "b": "subtask",' in out and '+  "a": "subtask",' in out
    assert "is stale: run `make registry`" in out

    assert build_registry.main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == fresh
    assert build_registry.main(["--check", "--output", str(target)]) == 0
    assert "1 subtasks" in capsys.readouterr().out


def test_the_shipped_registry_is_the_pinned_packages(build_registry: ModuleType) -> None:
    import lmms_eval.models

    from lmms_eval_client.testing._registry import REGISTRY_FILE, lmms_eval_registry

    shipped = json.loads((build_registry.DEFAULT_OUTPUT).read_text(encoding="utf-8"))
    assert build_registry.DEFAULT_OUTPUT.name == REGISTRY_FILE
    registry = lmms_eval_registry()
    assert registry.lmms_eval_version == shipped["lmms_eval_version"] == "0.7.3"
    assert list(registry.models) == lmms_eval.models.list_available_models()
    aliases = set(lmms_eval.models.list_available_models(include_aliases=True))
    assert set(registry.model_aliases) == aliases - set(registry.models)
    assert registry.kinds["mmmu_val"] == "subtask"
    assert registry.kinds["mathvista"] == "group"
    assert registry.groups["mathvista"].members == ("mathvista_testmini", "mathvista_test")
